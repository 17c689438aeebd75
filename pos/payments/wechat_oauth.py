"""A shopper's openid from WeChat's web OAuth, which JSAPI payment needs inside WeChat.

The browser goes to WeChat's authorize page with the silent scope `snsapi_base`: WeChat asks the
shopper nothing and sends the browser back with a one-time code, which the server trades for
the shopper's openid under the official account whose AppID the merchant id is bound to.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

import httpx

from pos.errors import InvalidInput, Unavailable
from pos.tls import tls_context

__all__ = ["WeChatOAuth"]

_TIMEOUT_S = 10.0


@dataclass(frozen=True, slots=True)
class WeChatOAuth:
    """The official account's web OAuth (公众号网页授权)."""

    appid: str
    secret: str
    authorize_url: str
    openid_url: str

    def sign_in_url(self, back_to: str) -> str:
        """Where to send the browser; WeChat sends it on to `back_to` with `code` added."""
        query = urlencode(
            {
                "appid": self.appid,
                "redirect_uri": back_to,
                "response_type": "code",
                "scope": "snsapi_base",
                "state": "pay",
            }
        )
        return f"{self.authorize_url}?{query}#wechat_redirect"

    async def openid(self, code: str) -> str:
        """The shopper's openid for a code WeChat gave the browser (valid once, 5 minutes)."""
        params = {
            "appid": self.appid,
            "secret": self.secret,
            "code": code,
            "grant_type": "authorization_code",
        }
        try:
            async with httpx.AsyncClient(timeout=_TIMEOUT_S, verify=tls_context()) as http:
                answer = (await http.get(self.openid_url, params=params)).json()
        except (httpx.HTTPError, ValueError) as exc:
            raise Unavailable(f"WeChat did not answer: {exc!r}", code="wechat_unavailable") from exc
        if not answer.get("openid"):
            raise InvalidInput(
                f"WeChat did not sign the shopper in ({answer.get('errmsg', answer)}): pay again",
                code="wechat_sign_in_failed",
            )
        return str(answer["openid"])
