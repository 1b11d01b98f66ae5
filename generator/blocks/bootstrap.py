"""The web server's bootstrap as ``AWS::CloudFormation::Init`` metadata (cfn-init), one config per concern.

Config set ``bootstrap`` (run at first boot by the UserData, and again by cfn-hup after every stack
update, so an update re-deploys; every step is idempotent):

- ``packages``: Apache with mod_ssl, git, openssl, the AWS CLI and the CloudWatch agent;
- ``phi_volume`` (in the config set only when the template's PHI condition holds): the instance attaches
  the PHI volume to itself, formats it on first use (XFS) and mounts it by UUID with
  ``nodev,nosuid,noexec``.  No ``AWS::EC2::VolumeAttachment``: deleting one detaches a volume that is
  still mounted, which "could possibly damage the file system" and can stay ``busy`` indefinitely
  (*AWS::EC2::VolumeAttachment*, AWS CloudFormation User Guide,
  https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-ec2-volumeattachment.html).
  Terminating the instance instead shuts it down gracefully ("systemd handles a graceful shutdown",
  *Terminate your instance*, Amazon EC2 User Guide,
  https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/terminating-instances.html), which unmounts the
  volume, and a volume attached after launch persists ("its DeleteOnTermination attribute is set to
  false", same page).  When the volume is still attached to the instance this one replaces (a stack
  update creates the replacement first), a systemd unit attaches it once the old instance is gone;
- ``https``: a per-instance private key and self-signed certificate generated on the instance (never
  shipped in the template); Apache serves HTTPS only with TLS 1.2/1.3 and HSTS, port 80 redirects to
  HTTPS, no directory listings, no symbolic links followed (``Options None``), ``.git`` never served,
  and its own health path (``HEALTH_PATH``, outside the site) that answers whatever the repository holds;
- ``site``: the CodeCommit credential helper (the instance role's credentials, no stored secret) and
  the release script, which fetches the repository (force-pushes included) and checks out exactly the
  ``Revision`` parameter (a commit id or a branch; ``HEAD``: the repository's default branch) into
  ``/var/www/html/<WebDirectory>``, symbolic links checked out as plain files (``core.symlinks=false``);
  the health path then names the live commit;
- ``logging``: the CloudWatch agent ships Apache's access and error logs and the bootstrap logs to the
  template's (KMS-encrypted) log groups;
- ``cfn_hup``: cfn-hup (a systemd unit written here) watches the instance's metadata and re-runs this
  config set on a stack update: a new ``Revision`` is a metadata change, so a release reaches the server.

Services (Apache, cfn-hup) are managed through cfn-init's ``systemd`` key: Amazon Linux 2023 has no
SysV ``service``/``chkconfig`` tooling for the ``sysvinit`` key to drive.  Nothing here uses a
``{{resolve:...}}`` dynamic reference: "Dynamic references are also not supported in
AWS::CloudFormation::Init metadata and Amazon EC2 UserData properties" (*Get values stored in other
services using dynamic references*, https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/dynamic-references.html).
"""

from __future__ import annotations

from troposphere import If, NoValue, Ref, Sub

CONFIG_SET = "bootstrap"
WEB_ROOT = "/var/www/html"
HEALTH_ROOT = "/var/www/hipaa-health"
HEALTH_FILE = f"{HEALTH_ROOT}/health.txt"
# The load balancer's health check: served by Apache from HEALTH_ROOT, so an empty repository (or one
# without index.html) leaves the target healthy.  A WebDirectory starts with a letter or digit, so no
# site path can be this one.
HEALTH_PATH = "/_health"
CERT_FILE = "/etc/pki/tls/certs/hipaa-server.crt"
KEY_FILE = "/etc/pki/tls/private/hipaa-server.key"
AGENT_CONFIG = "/opt/aws/amazon-cloudwatch-agent/etc/amazon-cloudwatch-agent.json"
PACKAGES = ("httpd", "mod_ssl", "git", "openssl", "awscli-2", "amazon-cloudwatch-agent")
MAKE_CERTIFICATE_PATH = "/usr/local/sbin/hipaa-make-certificate"
DEPLOY_SITE_PATH = "/usr/local/sbin/hipaa-deploy-site"
ATTACH_PHI_PATH = "/usr/local/sbin/hipaa-attach-phi-volume"
SSL_CONF_PATH = "/etc/httpd/conf.d/ssl.conf"
SITE_CONF_PATH = "/etc/httpd/conf.d/hipaa-site.conf"
# The health file exists before Apache starts (the https step), whatever the release script did yet.
HEALTH_INIT = (f"mkdir -p {HEALTH_ROOT} && {{ test -s {HEALTH_FILE} || echo 'ok: no revision deployed yet' "
               f"> {HEALTH_FILE}; }}")
# Exit status of the attach script when the volume is still attached to another instance (EX_TEMPFAIL).
VOLUME_HELD = 75

MAKE_CERTIFICATE = f"""#!/bin/bash
# Generate this instance's own TLS key and self-signed certificate once (never shipped in the template).
set -euo pipefail
key={KEY_FILE}
crt={CERT_FILE}
if [ -s "$key" ] && [ -s "$crt" ]; then exit 0; fi
host=$(hostname -f)
umask 077
openssl req -x509 -newkey rsa:3072 -sha256 -nodes -days 825 -keyout "$key" -out "$crt" \\
  -subj "/CN=$host" -addext "subjectAltName=DNS:$host"
chmod 0600 "$key"
chmod 0644 "$crt"
"""

SSL_CONF = f"""# Written by cfn-init (hipaa-catalog): HTTPS only, TLS 1.2 and 1.3, this instance's own key.
Listen 443 https
SSLPassPhraseDialog exec:/usr/libexec/httpd-ssl-pass-dialog
SSLSessionCache shmcb:/run/httpd/sslcache(512000)
SSLSessionCacheTimeout 300
SSLCryptoDevice builtin
SSLProtocol -all +TLSv1.2 +TLSv1.3
SSLHonorCipherOrder on
SSLCipherSuite PROFILE=SYSTEM
SSLProxyCipherSuite PROFILE=SYSTEM
<VirtualHost _default_:443>
    SSLEngine on
    SSLCertificateFile {CERT_FILE}
    SSLCertificateKeyFile {KEY_FILE}
    Header always set Strict-Transport-Security "max-age=63072000; includeSubDomains"
    ErrorLog logs/ssl_error_log
    CustomLog logs/ssl_access_log combined
    LogLevel warn
</VirtualHost>
"""

# "Options None": no directory listings and no symbolic links followed (FollowSymLinks is Apache's
# default); a full Options list replaces the inherited one instead of merging with it (*core: Options*,
# Apache HTTP Server 2.4, https://httpd.apache.org/docs/2.4/mod/core.html#options).
SITE_CONF = f"""# Written by cfn-init (hipaa-catalog): hardening, the health path, and port 80 only redirects to HTTPS.
ServerTokens Prod
ServerSignature Off
TraceEnable Off
Header always set X-Content-Type-Options "nosniff"
<Directory "{WEB_ROOT}">
    Options None
    AllowOverride None
    Require all granted
</Directory>
RedirectMatch 404 /\\.git
Alias "{HEALTH_PATH}" "{HEALTH_FILE}"
<Directory "{HEALTH_ROOT}">
    Options None
    AllowOverride None
    Require all granted
</Directory>
<VirtualHost *:80>
    RewriteEngine On
    RewriteRule ^ https://%{{HTTP_HOST}}%{{REQUEST_URI}} [R=301,L]
</VirtualHost>
"""

# Fn::Sub text: ${CodeCommitRepo}, ${WebDirectory} and ${Revision} are the template's parameters.  The
# clone starts as `git init` with core.symlinks=false set before anything is checked out ("If false,
# symbolic links are checked out as small plain files that contain the link text", git-config(1),
# core.symlinks); the fetch refspec has a "+", so a force-pushed branch is taken as it now is.
DEPLOY_SITE = f"""#!/bin/bash
# Deploy exactly one revision of the site's repository: a commit id, a branch, or HEAD (the default branch).
set -euo pipefail
export HOME=/root
repo="${{CodeCommitRepo}}"
target="{WEB_ROOT}/${{WebDirectory}}"
revision="${{Revision}}"
health="{HEALTH_FILE}"
say() {{ echo "hipaa-deploy-site: $*" >&2; }}
git config --system credential.helper '!aws codecommit credential-helper $@'
git config --system credential.UseHttpPath true
if [ ! -d "$target/.git" ]; then
  rm -rf "$target"
  git init --quiet "$target"
fi
cd "$target"
git config core.symlinks false
git remote remove origin 2>/dev/null || true
git remote add origin "$repo"
git fetch --quiet --force --prune --no-tags origin '+refs/heads/*:refs/remotes/origin/*'
if [ "$revision" = HEAD ]; then
  branch=$(git ls-remote --symref origin HEAD | sed -n 's|^ref: refs/heads/\\(.*\\)\\tHEAD$|\\1|p')
  if [ -z "$branch" ]; then
    say "the repository has no commit yet: nothing to deploy"
    echo "ok: the repository is empty" > "$health"
    exit 0
  fi
  ref="refs/remotes/origin/$branch"
elif git rev-parse --quiet --verify "refs/remotes/origin/$revision^{{commit}}" >/dev/null; then
  ref="refs/remotes/origin/$revision"
elif [[ "$revision" =~ ^[0-9a-f]{{40}}$ ]]; then
  git cat-file -e "$revision^{{commit}}" 2>/dev/null || git fetch --quiet --no-tags origin "$revision" \\
    || {{ say "commit $revision is not in $repo (no branch holds it)"; exit 1; }}
  ref="$revision"
else
  say "no branch or commit $revision in $repo"
  exit 1
fi
commit=$(git rev-parse --verify "$ref^{{commit}}")
git checkout --quiet --force --detach "$commit"
git clean --quiet -ffdx
echo "ok: revision $commit" > "$health"
say "serving $commit ($revision)"
"""

# Fn::Sub text: ${Volume} is the PHI volume's id, ${Device} the device name it is attached as (/dev/sdf),
# ${MountPoint} where it is mounted.  On Nitro instances the volume is an NVMe device; Amazon Linux's udev
# rules (amazon-ec2-utils) add the /dev/sdX name of the attachment as a symlink, so the script waits for it.
ATTACH_PHI_VOLUME = f"""#!/bin/bash
# Attach the PHI volume ${{Volume}} to this instance, format it on first use, mount it by UUID.
# Exit {VOLUME_HELD}: the volume is attached to another instance (the one this instance replaces).
set -euo pipefail
volume="${{Volume}}"
dev="${{Device}}"
mnt="${{MountPoint}}"
export AWS_DEFAULT_REGION="${{AWS::Region}}"
mountpoint -q "$mnt" && exit 0
token=$(curl -sf -X PUT http://169.254.169.254/latest/api/token -H "X-aws-ec2-metadata-token-ttl-seconds: 300")
me=$(curl -sf -H "X-aws-ec2-metadata-token: $token" http://169.254.169.254/latest/meta-data/instance-id)
holder=$(aws ec2 describe-volumes --volume-ids "$volume" --query 'Volumes[0].Attachments[0].InstanceId' --output text)
if [ "$holder" = None ] || [ -z "$holder" ]; then
  aws ec2 attach-volume --volume-id "$volume" --instance-id "$me" --device "$dev" >/dev/null
elif [ "$holder" != "$me" ]; then
  echo "PHI volume $volume is attached to $holder; it is attached here once that instance is gone" >&2
  exit {VOLUME_HELD}
fi
for _ in $(seq 1 120); do
  [ -e "$dev" ] && break
  sleep 5
done
[ -e "$dev" ] || {{ echo "PHI volume $volume did not appear at $dev within 10 minutes" >&2; exit 1; }}
dev=$(readlink -f "$dev")
blkid "$dev" >/dev/null 2>&1 || mkfs.xfs -L phi "$dev"
uuid=$(blkid -s UUID -o value "$dev")
mkdir -p "$mnt"
grep -q "UUID=$uuid " /etc/fstab || echo "UUID=$uuid $mnt xfs defaults,nofail,nodev,nosuid,noexec 0 2" >> /etc/fstab
mountpoint -q "$mnt" || mount "$mnt"
chmod 0750 "$mnt"
"""

PHI_UNIT_FILE = "/etc/systemd/system/hipaa-phi-volume.service"
PHI_UNIT = f"""[Unit]
Description=Attach and mount the PHI volume (written by cfn-init, hipaa-catalog); retries while another instance holds it
After=network-online.target
Wants=network-online.target

[Service]
Type=oneshot
ExecStart={ATTACH_PHI_PATH}
Restart=on-failure
RestartSec=20

[Install]
WantedBy=multi-user.target
"""

CFN_HUP_CONF = """[main]
stack=${AWS::StackId}
region=${AWS::Region}
interval=5
"""

RELOADER_CONF = """[cfn-auto-reloader-hook]
triggers=post.update
path=Resources.${Instance}.Metadata.AWS::CloudFormation::Init
action=/opt/aws/bin/cfn-init -v --stack ${AWS::StackName} --resource ${Instance} --configsets ${ConfigSet} --region ${AWS::Region}
runas=root
"""


# Amazon Linux 2023 runs systemd and ships neither chkconfig nor SysV init scripts for cfn-hup, so services
# are declared under cfn-init's ``systemd`` key (aws-cfn-bootstrap 2.x) and cfn-hup gets its own unit.
SERVICE_MANAGER = "systemd"
CFN_HUP_UNIT_FILE = "/etc/systemd/system/cfn-hup.service"
CFN_HUP_UNIT = """[Unit]
Description=cfn-hup: re-run cfn-init after a stack update (written by cfn-init, hipaa-catalog)
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
ExecStart=/opt/aws/bin/cfn-hup
Restart=always

[Install]
WantedBy=multi-user.target
"""


def _file(content, mode: str = "000644") -> dict:
    return {"content": content, "mode": mode, "owner": "root", "group": "root"}


def packages_config() -> dict:
    return {"packages": {"yum": {name: [] for name in PACKAGES}}}


def phi_volume_config(volume, device: str, mount_point: str) -> dict:
    """Attach and mount the PHI volume; while another instance holds it, the unit keeps trying."""
    script = Sub(ATTACH_PHI_VOLUME, Volume=volume, Device=device, MountPoint=mount_point)
    attach = (f"{ATTACH_PHI_PATH}; rc=$?; if [ $rc -eq {VOLUME_HELD} ]; then "
              "systemctl start --no-block hipaa-phi-volume.service; exit 0; fi; exit $rc")
    return {"files": {ATTACH_PHI_PATH: _file(script, "000700"), PHI_UNIT_FILE: _file(PHI_UNIT)},
            "commands": {"10_enable_unit": {"command": "systemctl daemon-reload && systemctl enable hipaa-phi-volume.service"},
                         "20_attach_phi_volume": {"command": attach}}}


def https_config() -> dict:
    return {
        "files": {MAKE_CERTIFICATE_PATH: _file(MAKE_CERTIFICATE, "000700"), SSL_CONF_PATH: _file(SSL_CONF),
                  SITE_CONF_PATH: _file(SITE_CONF)},
        "commands": {"10_make_certificate": {"command": MAKE_CERTIFICATE_PATH},
                     "20_health_file": {"command": HEALTH_INIT}},
        "services": {SERVICE_MANAGER: {"httpd": {"enabled": "true", "ensureRunning": "true",
                                            "files": [SSL_CONF_PATH, SITE_CONF_PATH]}}},
    }


def site_config() -> dict:
    return {"files": {DEPLOY_SITE_PATH: _file(Sub(DEPLOY_SITE), "000700")},
            "commands": {"10_deploy_site": {"command": DEPLOY_SITE_PATH}}}


def agent_config(access_group, error_group, bootstrap_group) -> dict:
    """CloudWatch agent configuration: which file goes to which log group (streams named by instance id)."""
    def collect(path: str, group) -> dict:
        return {"file_path": path, "log_group_name": Ref(group),
                "log_stream_name": "{instance_id}/" + path.rsplit("/", 1)[-1], "retention_in_days": -1}

    return {
        "agent": {"run_as_user": "root"},
        "logs": {"logs_collected": {"files": {"collect_list": [
            collect("/var/log/httpd/ssl_access_log", access_group),
            collect("/var/log/httpd/access_log", access_group),
            collect("/var/log/httpd/ssl_error_log", error_group),
            collect("/var/log/httpd/error_log", error_group),
            collect("/var/log/cfn-init.log", bootstrap_group),
            collect("/var/log/cfn-init-cmd.log", bootstrap_group),
            collect("/var/log/cfn-hup.log", bootstrap_group),
            collect("/var/log/cloud-init-output.log", bootstrap_group),
        ]}}},
    }


def logging_config(access_group, error_group, bootstrap_group) -> dict:
    ctl = "/opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl"
    return {
        "files": {AGENT_CONFIG: _file(agent_config(access_group, error_group, bootstrap_group))},
        "commands": {"10_start_agent": {"command": f"{ctl} -a fetch-config -m ec2 -s -c file:{AGENT_CONFIG}"}},
    }


def cfn_hup_config(instance_id: str) -> dict:
    conf, hook = "/etc/cfn/cfn-hup.conf", "/etc/cfn/hooks.d/cfn-auto-reloader.conf"
    return {
        "files": {conf: _file(Sub(CFN_HUP_CONF), "000400"),
                  hook: _file(Sub(RELOADER_CONF, Instance=instance_id, ConfigSet=CONFIG_SET), "000400"),
                  CFN_HUP_UNIT_FILE: _file(CFN_HUP_UNIT)},
        "services": {SERVICE_MANAGER: {"cfn-hup": {"enabled": "true", "ensureRunning": "true",
                                                   "files": [conf, hook, CFN_HUP_UNIT_FILE]}}},
    }


def init_metadata(*, instance_id: str, phi_condition: str, phi_volume, phi_device: str, phi_mount_point: str,
                  access_group, error_group, bootstrap_group) -> dict:
    """The instance's ``Metadata``: the whole bootstrap, with the PHI step only where ``phi_condition`` holds
    (``phi_volume`` is the conditional volume resource, referred to only under that condition)."""
    steps = ["packages", "https", "site", "logging", "cfn_hup"]
    with_phi = steps[:1] + ["phi_volume"] + steps[1:]
    return {"AWS::CloudFormation::Init": {
        "configSets": {CONFIG_SET: If(phi_condition, with_phi, steps)},
        "packages": packages_config(),
        "phi_volume": If(phi_condition, phi_volume_config(Ref(phi_volume), phi_device, phi_mount_point), NoValue),
        "https": https_config(),
        "site": site_config(),
        "logging": logging_config(access_group, error_group, bootstrap_group),
        "cfn_hup": cfn_hup_config(instance_id),
    }}
