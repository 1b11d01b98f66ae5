"""E9203: only a load balancer's HTTPS port (and the port-80 redirect) is open to the internet."""

from generator.compliance import hipaa


class SecurityGroupInternetIngress(hipaa.HipaaRule):
    id = "E9203"
    shortdesc = "Internet ingress only to 443/80 on a load balancer"
    description = ("Ingress from 0.0.0.0/0 or ::/0 (inline, standalone, inside Fn::If, or through a parameter "
                   "that may be open) is allowed only for port 443 or 80 on a security group attached to an "
                   "ELBv2 load balancer.")
    hipaa = ("164.312(e)(1)", "164.312(a)(1)")
    fix = "restrict the source CIDR, or put the service behind a load balancer that listens on 443"
    resource_types = ("AWS::EC2::SecurityGroup", "AWS::EC2::SecurityGroupIngress")
    evidence = ("SecurityGroupIngress",)

    def shown(self, s, lid, res):
        return hipaa.sg_shown(lid, res)

    def check(self, s, lid, res):
        lb_groups = hipaa.load_balancer_groups(s)
        for path, rule, groups in hipaa.sg_rules(lid, res, "Ingress"):
            source = hipaa.open_source(rule, s)
            if not source:
                continue
            ports = hipaa.port_range(rule)
            if ports in ((443, 443), (80, 80)) and groups and groups <= lb_groups:
                continue
            shown = "all" if ports == (0, 65535) else (f"{ports[0]}-{ports[1]}" if ports else rule.get("IpProtocol"))
            where = "a load balancer's" if groups and groups <= lb_groups else "a non-load-balancer"
            yield hipaa.Fail(path, f"{lid}: ingress from {source} to ports {shown} on {where} security group")
