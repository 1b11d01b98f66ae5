"""URL routing in moto's convention: moto's STS hosts, our responses."""

from moto.sts.urls import url_bases

from .responses import TokenResponse

url_paths = {"{0}/$": TokenResponse.dispatch}

__all__ = ["url_bases", "url_paths"]
