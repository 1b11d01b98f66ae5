"""Placeholder: the healthcare web server product (issue 2) replaces this module."""

from __future__ import annotations

from dataclasses import dataclass

from troposphere import Parameter, Template

from generator.config import ProductConfig, options_for
from products.registry import ProductSpec

NAME = "healthcare-web-server"


@dataclass(frozen=True)
class WebServerConfig(ProductConfig):
    pass


def make_config(settings, product, built) -> WebServerConfig:
    return WebServerConfig(product=product.name, version=product.version, ssm_prefix=settings.ssm_prefix,
                           regions=settings.regions, **options_for(WebServerConfig, product.name, product.options))


def build(cfg: WebServerConfig) -> Template:
    t = Template(Description=f"{cfg.product} {cfg.version}")
    t.set_version("2010-09-09")
    env = t.add_parameter(Parameter("Environment", Type="String", AllowedValues=["PROD", "TEST"],
                                    Description="PROD or TEST"))
    t.add_resource(__import__("troposphere.ssm", fromlist=["Parameter"]).Parameter(
        "Placeholder", Type="String", Value=__import__("troposphere").Ref(env)))
    return t


SPEC = ProductSpec(name=NAME, title="Healthcare web server", kind="product", build=build, make_config=make_config)
