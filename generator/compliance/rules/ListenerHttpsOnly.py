"""E9202: load balancer listeners use TLS 1.2+; plain HTTP only redirects to HTTPS."""

from generator.compliance import hipaa

TLS12_POLICIES = ("ELBSecurityPolicy-TLS13-", "ELBSecurityPolicy-TLS-1-2-", "ELBSecurityPolicy-FS-1-2-")


class ListenerHttpsOnly(hipaa.HipaaRule):
    id = "E9202"
    shortdesc = "Listeners HTTPS with TLS 1.2+, HTTP only redirects"
    description = ("An AWS::ElasticLoadBalancingV2::Listener is HTTPS/TLS with a TLS 1.2+ SslPolicy and a "
                   "certificate, or HTTP whose default actions only redirect to HTTPS.")
    hipaa = ("164.312(e)(1)", "164.312(e)(2)(ii)")
    fix = "use Protocol HTTPS with SslPolicy ELBSecurityPolicy-TLS13-1-2-2021-06, or redirect HTTP to HTTPS"
    resource_types = ("AWS::ElasticLoadBalancingV2::Listener",)
    evidence = ("Protocol", "SslPolicy", "DefaultActions")

    def check(self, s, lid, res):
        p = hipaa.props(res)
        proto = p.get("Protocol")
        if proto in ("HTTPS", "TLS"):
            pol = p.get("SslPolicy")
            if not (isinstance(pol, str) and pol.startswith(TLS12_POLICIES)):
                yield hipaa.Fail(("Properties", "SslPolicy"),
                                 f"listener {lid}: SslPolicy {pol or 'not set (default allows TLS 1.0)'} is not TLS 1.2+")
            if not hipaa.is_set(p.get("Certificates")):
                yield hipaa.Fail(("Properties", "Certificates"), f"listener {lid}: no certificate")
            return
        if proto == "HTTP":
            for i, a in enumerate(hipaa.as_list(p.get("DefaultActions"))):
                cfg = a.get("RedirectConfig") if isinstance(a, dict) else None
                if not (isinstance(a, dict) and a.get("Type") == "redirect" and isinstance(cfg, dict)
                        and cfg.get("Protocol") == "HTTPS"):
                    yield hipaa.Fail(("Properties", "DefaultActions", i),
                                     f"listener {lid}: plain HTTP action {i} does not redirect to HTTPS")
            return
        yield hipaa.Fail(("Properties", "Protocol"), f"listener {lid}: Protocol {proto!r} is not HTTPS")
