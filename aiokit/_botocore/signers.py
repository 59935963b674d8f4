"""SigV4 signing: botocore's signature, byte for byte, for about half its CPU.

botocore's ``SigV4Auth`` builds the signed headers twice per request in an
``email.message.Message``, parses the URL three times (``_host_from_url`` also checks for an
IPv6 literal with a regular expression) and derives the signing key with four HMACs every
time. ``LeanSigV4Auth`` keeps every step of the algorithm and its inputs, and does the
repeated parts once: the signed headers in a plain dict, the URL split once, the host and
the normalised path remembered per URL part, the signing key per (secret, date, region,
service).

Only plain ``v4`` (the signature most services use) is replaced, by
``LeanRequestSigner`` for the clients a ``SessionPool`` makes; S3's, the query-string
(presigned) variants, SigV4a and every other signer are botocore's own. With ``awscrt``
installed (``boto3[crt]``) botocore maps ``v4`` to ``CrtSigV4Auth`` instead of
``SigV4Auth``; that one is replaced too (same signature, about twice the CPU), while the
other CRT signers (``s3v4``, ``v4a``, ...) stay. The canonical request is not logged
(botocore logs it at DEBUG, security token included).

One difference, on purpose: a header given twice (``add_header`` in an event handler) is
signed with its last value, which is the one botocore's prepared request sends; botocore
signs both values and AWS refuses the request.
"""

from __future__ import annotations

import hmac
from hashlib import sha256
from typing import Any
from urllib.parse import urlsplit

import botocore.auth
from aiobotocore.signers import AioRequestSigner
from botocore.auth import SIGNED_HEADERS_BLACKLIST, SIGV4_TIMESTAMP, SigV4Auth
from botocore.exceptions import NoCredentialsError

try:  # botocore's v4 signer when awscrt is installed (botocore.auth.AUTH_TYPE_MAPS["v4"])
    from botocore.crt.auth import CrtSigV4Auth as _CrtSigV4Auth
except ImportError:  # no awscrt: botocore.crt.auth imports it
    _CrtSigV4Auth = None

__all__ = ["LeanRequestSigner", "LeanSigV4Auth", "use_lean_signer"]

_NOT_SIGNED = frozenset(SIGNED_HEADERS_BLACKLIST)
_CACHE_SIZE = 1024
_hosts: dict[str, str] = {}
_paths: dict[str, str] = {}
_keys: dict[tuple[str, str, str, str], bytes] = {}


def _remember(cache: dict[Any, Any], key: Any, value: Any) -> Any:
    if len(cache) >= _CACHE_SIZE:  # a bound, not an LRU: these sets are small in practice
        cache.clear()
    cache[key] = value
    return value


def _signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    """SigV4's derived key, from botocore's four HMACs, once per day, region and service."""
    cache_key = (secret, date, region, service)
    key = _keys.get(cache_key)
    if key is None:
        key = f"AWS4{secret}".encode()
        for part in (date, region, service, "aws4_request"):
            key = hmac.new(key, part.encode("utf-8"), sha256).digest()
        _remember(_keys, cache_key, key)
    return key


class LeanSigV4Auth(SigV4Auth):  # type: ignore[misc]
    """botocore's ``SigV4Auth`` with the same output and less work (see the module)."""

    def add_auth(self, request: Any) -> None:
        if self.credentials is None:
            raise NoCredentialsError()
        # botocore.auth's own clock, so whatever pins it for botocore pins it here too
        request.context["timestamp"] = botocore.auth.get_current_datetime().strftime(
            SIGV4_TIMESTAMP
        )
        self._modify_request_before_signing(request)
        canonical_request, signed_headers = self._canonical(request)
        string_to_sign = self.string_to_sign(request, canonical_request)
        signature = self.signature(string_to_sign, request)
        request.headers["Authorization"] = (
            f"AWS4-HMAC-SHA256 Credential={self.scope(request)}, "
            f"SignedHeaders={signed_headers}, Signature={signature}"
        )

    def _canonical(self, request: Any) -> tuple[str, str]:
        """The canonical request and the signed-headers list, as botocore builds them."""
        url: str = request.url
        parts = urlsplit(url)
        signed: dict[str, str] = {}
        for name, value in request.headers.items():
            lowered = name.lower()
            if lowered not in _NOT_SIGNED:
                # A repeated name keeps its last value: that is what botocore's prepared
                # request sends (see test_a_header_given_twice_is_signed_as_it_is_sent).
                signed[lowered] = value
        if "host" not in signed:
            origin = url[: len(parts.scheme) + 3 + len(parts.netloc)]
            host = _hosts.get(origin)
            if host is None:
                host = _remember(_hosts, origin, botocore.auth._host_from_url(url))
            signed["host"] = host
        names = sorted(signed)
        canonical_headers = "\n".join(f"{n}:{' '.join(signed[n].split())}" for n in names)
        signed_headers = ";".join(sorted(n.strip() for n in names))
        path = _paths.get(parts.path)
        if path is None:
            path = _remember(_paths, parts.path, self._normalize_url_path(parts.path))
        if request.params:
            query = self._canonical_query_string_params(request.params)
        else:
            query = self._canonical_query_string_url(parts)
        if "X-Amz-Content-SHA256" in request.headers:
            body_checksum = request.headers["X-Amz-Content-SHA256"]
        else:
            body_checksum = self.payload(request)
        canonical_request = "\n".join(
            (
                request.method.upper(),
                path,
                query,
                canonical_headers + "\n",
                signed_headers,
                body_checksum,
            )
        )
        return canonical_request, signed_headers

    def signature(self, string_to_sign: str, request: Any) -> str:
        key = _signing_key(
            self.credentials.secret_key,
            request.context["timestamp"][0:8],
            self._region_name,
            self._service_name,
        )
        return hmac.new(key, string_to_sign.encode("utf-8"), sha256).hexdigest()


class LeanRequestSigner(AioRequestSigner):  # type: ignore[misc]
    """aiobotocore's request signer, handing out ``LeanSigV4Auth`` for plain SigV4."""

    async def get_auth_instance(self, *args: Any, **kwargs: Any) -> Any:
        auth = await super().get_auth_instance(*args, **kwargs)
        if type(auth) is SigV4Auth:
            auth.__class__ = LeanSigV4Auth
        elif _CrtSigV4Auth is not None and type(auth) is _CrtSigV4Auth:
            # Not a SigV4Auth subclass, so no class swap: the same three inputs, ours.
            auth = LeanSigV4Auth(auth.credentials, auth._service_name, auth._region_name)
        return auth

    get_auth = get_auth_instance


def use_lean_signer(client: Any) -> None:
    """Make ``client`` sign plain SigV4 requests with ``LeanSigV4Auth``.

    A signer of another class (a subclass someone installed) is left alone.
    """
    signer = getattr(client, "_request_signer", None)
    if type(signer) is AioRequestSigner:
        signer.__class__ = LeanRequestSigner


def inject_request_credentials(request_signer: Any, context: dict[str, Any], **_: Any) -> None:
    """``before-call`` handler: sign this request with its identity's own credentials.

    The signer passed in is the per-identity copy a bound client carries (see ``_clients``);
    it holds that identity's credentials. ``before-call`` runs after the endpoint ruleset
    filled ``context['signing']``, and the signer reads it when the request is created.
    """
    credentials = getattr(request_signer, "aiokit_credentials", None)
    if credentials is not None:
        context.setdefault("signing", {})["request_credentials"] = credentials
        context["aiokit_scope"] = request_signer.aiokit_scope
