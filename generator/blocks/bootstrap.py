"""The web server's bootstrap as ``AWS::CloudFormation::Init`` metadata (cfn-init), one config per concern.

Config set ``bootstrap`` (run at first boot by the UserData, and again by cfn-hup after every stack
update, so an update re-deploys; every step is idempotent):

- ``packages``: Apache with mod_ssl, git, openssl, the AWS CLI and the CloudWatch agent;
- ``phi_volume`` (in the config set only when the template's PHI condition holds): wait for the PHI
  volume's device, format it on first use (XFS), mount it by UUID with ``nodev,nosuid,noexec``;
- ``https``: a per-instance private key and self-signed certificate generated on the instance (never
  shipped in the template); Apache serves HTTPS only with TLS 1.2/1.3 and HSTS, port 80 redirects to
  HTTPS, no directory listings, ``.git`` never served;
- ``site``: the CodeCommit credential helper (the instance role's credentials, no stored secret) and a
  clone or fast-forward pull of the repository into ``/var/www/html/<WebDirectory>``;
- ``logging``: the CloudWatch agent ships Apache's access and error logs and the bootstrap logs to the
  template's (KMS-encrypted) log groups;
- ``cfn_hup``: cfn-hup (a systemd unit written here) watches the instance's metadata and re-runs this
  config set on a stack update.

Services (Apache, cfn-hup) are managed through cfn-init's ``systemd`` key: Amazon Linux 2023 has no
SysV ``service``/``chkconfig`` tooling for the ``sysvinit`` key to drive.
"""

from __future__ import annotations

from troposphere import If, Ref, Sub

CONFIG_SET = "bootstrap"
WEB_ROOT = "/var/www/html"
CERT_FILE = "/etc/pki/tls/certs/hipaa-server.crt"
KEY_FILE = "/etc/pki/tls/private/hipaa-server.key"
AGENT_CONFIG = "/opt/aws/amazon-cloudwatch-agent/etc/amazon-cloudwatch-agent.json"
PACKAGES = ("httpd", "mod_ssl", "git", "openssl", "awscli-2", "amazon-cloudwatch-agent")

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

SITE_CONF = f"""# Written by cfn-init (hipaa-catalog): hardening, and port 80 only redirects to HTTPS.
ServerTokens Prod
ServerSignature Off
TraceEnable Off
Header always set X-Content-Type-Options "nosniff"
<Directory "{WEB_ROOT}">
    Options FollowSymLinks
    AllowOverride None
    Require all granted
</Directory>
RedirectMatch 404 /\\.git
<VirtualHost *:80>
    RewriteEngine On
    RewriteRule ^ https://%{{HTTP_HOST}}%{{REQUEST_URI}} [R=301,L]
</VirtualHost>
"""

# Fn::Sub text: ${CodeCommitRepo} and ${WebDirectory} are the template's parameters.
DEPLOY_SITE = f"""#!/bin/bash
# Clone (first run) or fast-forward (stack update) the site's repository with the instance role's credentials.
set -euo pipefail
export HOME=/root
repo="${{CodeCommitRepo}}"
target="{WEB_ROOT}/${{WebDirectory}}"
git config --system credential.helper '!aws codecommit credential-helper $@'
git config --system credential.UseHttpPath true
if [ -d "$target/.git" ]; then
  git -C "$target" remote set-url origin "$repo"
  git -C "$target" pull --ff-only --quiet
else
  rm -rf "$target"
  git clone --quiet "$repo" "$target"
fi
"""

# Fn::Sub text: ${Device} is the attachment's device name (/dev/sdf), ${MountPoint} where it is mounted.
# On Nitro instances the volume is an NVMe device; Amazon Linux's udev rules (amazon-ec2-utils) add the
# /dev/sdX name from the attachment as a symlink, so the script waits for that name.
MOUNT_PHI_VOLUME = """#!/bin/bash
# Wait for the PHI volume at ${Device}, format it on first use, mount it by UUID (nodev,nosuid,noexec).
set -euo pipefail
dev="${Device}"
for _ in $(seq 1 120); do
  [ -e "$dev" ] && break
  sleep 5
done
[ -e "$dev" ] || { echo "PHI volume was not attached at $dev within 10 minutes" >&2; exit 1; }
dev=$(readlink -f "$dev")
blkid "$dev" >/dev/null 2>&1 || mkfs.xfs -L phi "$dev"
uuid=$(blkid -s UUID -o value "$dev")
mkdir -p ${MountPoint}
grep -q "UUID=$uuid " /etc/fstab || echo "UUID=$uuid ${MountPoint} xfs defaults,nofail,nodev,nosuid,noexec 0 2" >> /etc/fstab
mountpoint -q ${MountPoint} || mount ${MountPoint}
chmod 0750 ${MountPoint}
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


def phi_volume_config(device: str, mount_point: str) -> dict:
    path = "/usr/local/sbin/hipaa-mount-phi-volume"
    return {"files": {path: _file(Sub(MOUNT_PHI_VOLUME, Device=device, MountPoint=mount_point), "000700")},
            "commands": {"10_mount_phi_volume": {"command": path}}}


def https_config() -> dict:
    make_cert = "/usr/local/sbin/hipaa-make-certificate"
    ssl_conf, site_conf = "/etc/httpd/conf.d/ssl.conf", "/etc/httpd/conf.d/hipaa-site.conf"
    return {
        "files": {make_cert: _file(MAKE_CERTIFICATE, "000700"), ssl_conf: _file(SSL_CONF),
                  site_conf: _file(SITE_CONF)},
        "commands": {"10_make_certificate": {"command": make_cert}},
        "services": {SERVICE_MANAGER: {"httpd": {"enabled": "true", "ensureRunning": "true",
                                            "files": [ssl_conf, site_conf]}}},
    }


def site_config() -> dict:
    deploy = "/usr/local/sbin/hipaa-deploy-site"
    return {"files": {deploy: _file(Sub(DEPLOY_SITE), "000700")},
            "commands": {"10_deploy_site": {"command": deploy}}}


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


def init_metadata(*, instance_id: str, phi_condition: str, phi_device: str, phi_mount_point: str,
                  access_group, error_group, bootstrap_group) -> dict:
    """The instance's ``Metadata``: the whole bootstrap, with the PHI step only where ``phi_condition`` holds."""
    steps = ["packages", "https", "site", "logging", "cfn_hup"]
    with_phi = steps[:1] + ["phi_volume"] + steps[1:]
    return {"AWS::CloudFormation::Init": {
        "configSets": {CONFIG_SET: If(phi_condition, with_phi, steps)},
        "packages": packages_config(),
        "phi_volume": phi_volume_config(phi_device, phi_mount_point),
        "https": https_config(),
        "site": site_config(),
        "logging": logging_config(access_group, error_group, bootstrap_group),
        "cfn_hup": cfn_hup_config(instance_id),
    }}
