"""E9204: no SSH, RDP, FTP or database port is reachable from the internet."""

from generator.compliance import hipaa

ADMIN_PORTS = {20: "FTP data", 21: "FTP", 22: "SSH", 1433: "SQL Server", 1521: "Oracle", 3306: "MySQL",
               3389: "RDP", 4333: "mSQL", 5432: "PostgreSQL"}


class SecurityGroupAdminPorts(hipaa.HipaaRule):
    id = "E9204"
    shortdesc = "No admin or database ports from the internet"
    description = ("No ingress rule (inline, standalone, or inside Fn::If) opens ports "
                   + ", ".join(str(p) for p in ADMIN_PORTS) + " to 0.0.0.0/0 or ::/0.")
    hipaa = ("164.308(a)(3)(i)", "164.308(a)(4)", "164.312(a)(1)")
    fix = "remove the rule; administer instances with SSM Session Manager, reach databases from the VPC only"
    resource_types = ("AWS::EC2::SecurityGroup", "AWS::EC2::SecurityGroupIngress")
    evidence = ("SecurityGroupIngress",)

    def shown(self, s, lid, res):
        return hipaa.sg_shown(lid, res)

    def check(self, s, lid, res):
        for path, rule, _ in hipaa.sg_rules(lid, res, "Ingress"):
            source = hipaa.open_source(rule, s)
            ports = hipaa.port_range(rule)
            if not source or not ports:
                continue
            hit = [f"{p} ({n})" for p, n in ADMIN_PORTS.items() if ports[0] <= p <= ports[1]]
            if hit:
                yield hipaa.Fail(path, f"{lid}: ingress from {source} opens {', '.join(hit)}")
