"""An Entra-style token endpoint, so azure-identity's credentials run unmodified against it.

It answers OpenID discovery and `/{tenant}/oauth2/v2.0/token` for the client-credentials grant,
with a client secret or a client assertion (workload identity's federated token). Access tokens are
RS256 JWTs signed with a key kept in the data directory, so a restarted emulator still accepts the
tokens it issued. ARM requests are verified here (signature, audience, expiry) before RBAC.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from vmroll.emulator.catalog import Catalog, Principal
from vmroll.emulator.errors import ArmError
from vmroll.pki import write_private_key

Clock = Callable[[], float]
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ARM_AUDIENCES = ("https://management.azure.com", "https://management.core.windows.net")
KEY_ID = "vmroll-emulator-1"
VERIFIED_CACHE_SIZE = 1024


def _load_or_create_key(data_dir: Path) -> rsa.RSAPrivateKey:
    path = data_dir / "token-signing.key"
    if path.exists():
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if isinstance(key, rsa.RSAPrivateKey):
            return key
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    write_private_key(path, key)
    return key


def _oauth_error(status: int, error: str, aadsts: int, description: str) -> web.Response:
    return web.json_response(
        {
            "error": error,
            "error_description": f"AADSTS{aadsts}: {description}",
            "error_codes": [aadsts],
            "timestamp": time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime()),
            "trace_id": str(uuid.uuid4()),
            "correlation_id": str(uuid.uuid4()),
        },
        status=status,
    )


class Identity:
    """Issues and verifies the emulator's access tokens."""

    def __init__(self, catalog: Catalog, data_dir: Path, clock: Clock = time.time) -> None:
        self.catalog = catalog
        self.clock = clock
        self.base_url = ""
        self._key = _load_or_create_key(data_dir)
        self._public = self._key.public_key()
        self._verified: dict[str, dict[str, Any]] = {}

    @property
    def issuer(self) -> str:
        return f"https://sts.windows.net/{self.catalog.tenant_id}/"

    def audiences(self) -> tuple[str, ...]:
        return (*ARM_AUDIENCES, self.base_url.rstrip("/"))

    def issue(self, principal: Principal, audience: str, lifetime: float | None = None) -> str:
        now = int(self.clock())
        seconds = self.catalog.token_lifetime_seconds if lifetime is None else lifetime
        claims = {
            "aud": audience,
            "iss": self.issuer,
            "iat": now,
            "nbf": now - 300 if seconds > 0 else now + int(seconds) - 300,
            "exp": now + int(seconds),
            "appid": principal.client_id,
            "appidacr": "1",
            "idtyp": "app",
            "oid": principal.object_id,
            "sub": principal.object_id,
            "tid": self.catalog.tenant_id,
            "ver": "1.0",
        }
        return jwt.encode(claims, self._key, algorithm="RS256", headers={"kid": KEY_ID})

    def verify(self, authorization: str | None) -> Principal:
        """The principal behind an ARM request's bearer token, or a 401 ArmError."""
        if not authorization:
            raise self._unauthorized(
                "AuthenticationFailed",
                "Authentication failed. The 'Authorization' header is missing.",
            )
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise self._unauthorized(
                "AuthenticationFailed",
                "Authentication failed. "
                "The 'Authorization' header is provided in an invalid format.",
            )
        claims = self._verified.get(token)
        if claims is None:
            claims = self._decode(token)
        now = self.clock()
        if claims["exp"] <= now:
            raise self._unauthorized(
                "ExpiredAuthenticationToken",
                f"The access token expiry UTC time '{_utc(claims['exp'])}' is earlier than "
                f"current UTC time '{_utc(now)}'.",
            )
        principal = self.catalog.principal(str(claims.get("appid", "")))
        if principal is None:
            raise self._unauthorized(
                "InvalidAuthenticationToken", "The access token is from an unknown application."
            )
        return principal

    def _decode(self, token: str) -> dict[str, Any]:
        """Check a token's signature, audience and issuer once; expiry is checked on every use.

        Time claims are checked against the emulator's clock, not PyJWT's (a test's clock may be
        ahead of the wall clock), so PyJWT's own time checks are off.
        """
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self._public,
                algorithms=["RS256"],
                audience=list(self.audiences()),
                issuer=self.issuer,
                options={"verify_exp": False, "verify_nbf": False, "verify_iat": False},
            )
        except jwt.InvalidTokenError:
            raise self._unauthorized(
                "InvalidAuthenticationToken", "The access token is invalid."
            ) from None
        if len(self._verified) >= VERIFIED_CACHE_SIZE:
            self._verified.clear()
        self._verified[token] = claims
        return claims

    def _unauthorized(self, code: str, message: str) -> ArmError:
        challenge = (
            f'Bearer authorization_uri="{self.base_url}/{self.catalog.tenant_id}", '
            f'error="invalid_token", error_description="{message}"'
        )
        return ArmError(401, code, message, headers={"WWW-Authenticate": challenge})

    def add_routes(self, router: web.UrlDispatcher) -> None:
        router.add_get(
            "/{tenant}/v2.0/.well-known/openid-configuration",
            self._openid,
            name="Identity_OpenIdConfiguration",
        )
        router.add_get(
            "/{tenant}/.well-known/openid-configuration",
            self._openid,
            name="Identity_OpenIdConfigurationV1",
        )
        router.add_get("/{tenant}/discovery/v2.0/keys", self._keys, name="Identity_Keys")
        router.add_post("/{tenant}/oauth2/v2.0/token", self._token, name="Identity_Token")

    async def _openid(self, request: web.Request) -> web.Response:
        tenant = self._tenant(request)
        root = f"{self.base_url}/{tenant}"
        return web.json_response(
            {
                "issuer": f"{root}/v2.0",
                "token_endpoint": f"{root}/oauth2/v2.0/token",
                "authorization_endpoint": f"{root}/oauth2/v2.0/authorize",
                "jwks_uri": f"{root}/discovery/v2.0/keys",
                "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt"],
                "response_types_supported": ["code", "id_token", "token"],
                "grant_types_supported": ["client_credentials"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "subject_types_supported": ["pairwise"],
                "tenant_region_scope": "EU",
            }
        )

    async def _keys(self, request: web.Request) -> web.Response:
        self._tenant(request)
        jwk: dict[str, Any] = jwt.algorithms.RSAAlgorithm.to_jwk(self._public, as_dict=True)
        return web.json_response({"keys": [{**jwk, "kid": KEY_ID, "use": "sig", "alg": "RS256"}]})

    def _tenant(self, request: web.Request) -> str:
        tenant = request.match_info["tenant"]
        if tenant not in (self.catalog.tenant_id, "organizations", "common"):
            raise web.HTTPNotFound(text=f"Tenant '{tenant}' not found.")
        return self.catalog.tenant_id

    async def _token(self, request: web.Request) -> web.Response:
        form = await request.post()
        tenant = request.match_info["tenant"]
        if tenant != self.catalog.tenant_id:
            return _oauth_error(400, "invalid_request", 90002, f"Tenant '{tenant}' not found.")
        if form.get("grant_type") != "client_credentials":
            return _oauth_error(
                400,
                "unsupported_grant_type",
                70003,
                "The app requested an unsupported grant type 'grant_type'.",
            )
        client_id = str(form.get("client_id", ""))
        principal = self.catalog.principal(client_id)
        if principal is None:
            return _oauth_error(
                400,
                "unauthorized_client",
                700016,
                f"Application with identifier '{client_id}' was not found in the directory "
                f"'{tenant}'.",
            )
        failure = self._authenticate(principal, form)
        if failure is not None:
            return failure
        scope = str(form.get("scope", ""))
        audience = scope.removesuffix("/.default").rstrip("/")
        if not scope.endswith("/.default") or audience not in self.audiences():
            return _oauth_error(
                400,
                "invalid_scope",
                500011,
                f"The resource principal named {audience} was not found in the tenant named "
                f"{tenant}.",
            )
        lifetime = self.catalog.token_lifetime_seconds
        return web.json_response(
            {
                "token_type": "Bearer",
                "expires_in": lifetime,
                "ext_expires_in": lifetime,
                "access_token": self.issue(principal, audience),
            }
        )

    def _authenticate(self, principal: Principal, form: Any) -> web.Response | None:
        secret = form.get("client_secret")
        assertion = form.get("client_assertion")
        if secret is not None:
            if principal.client_secret is not None and secret == principal.client_secret:
                return None
            return _oauth_error(
                401,
                "invalid_client",
                7000215,
                "Invalid client secret provided. Ensure the secret being sent in the request is "
                f"the client secret value, not the client secret ID, for a secret added to app "
                f"'{principal.client_id}'.",
            )
        if assertion is not None and form.get("client_assertion_type") == JWT_BEARER:
            return self._check_assertion(principal, str(assertion))
        return _oauth_error(
            401,
            "invalid_client",
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or "
            "'client_secret'.",
        )

    def _check_assertion(self, principal: Principal, assertion: str) -> web.Response | None:
        """Federated credentials: the issuer's signature is the cluster's, so only claims count."""
        try:
            claims = jwt.decode(assertion, options={"verify_signature": False})
        except jwt.InvalidTokenError:
            return _oauth_error(400, "invalid_client", 50027, "JWT token is invalid or malformed.")
        if float(claims.get("exp", 0)) <= self.clock():
            return _oauth_error(400, "invalid_client", 700024, "Client assertion is expired.")
        subject = str(claims.get("sub", ""))
        if subject not in principal.federated_subjects:
            return _oauth_error(
                400,
                "invalid_client",
                70021,
                f"No matching federated identity record found for presented assertion subject "
                f"'{subject}'.",
            )
        return None


def _utc(epoch: float) -> str:
    return time.strftime("%m/%d/%Y %H:%M:%S", time.gmtime(epoch))
