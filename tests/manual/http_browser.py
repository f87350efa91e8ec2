#!/work/main/.venv/bin/python
"""A stand-in browser for headless sign-in checks: ``BROWSER=tests/manual/http_browser.py <client>``.

Given the authorization URL a client opens, it follows the redirects to the local IdP's login page, submits the
plain form (e-mail and groups from MCP_LOGIN_EMAIL / MCP_LOGIN_GROUPS), and follows the redirects back to the
client's loopback callback, exactly as a person's browser would (no JavaScript is involved). Local stack only."""

from __future__ import annotations

import html
import os
import re
import sys

import httpx


def main(url: str) -> int:
    email = os.environ.get("MCP_LOGIN_EMAIL", "alice@example.com")
    groups = os.environ.get("MCP_LOGIN_GROUPS", "developers")
    with httpx.Client(timeout=30, follow_redirects=True) as http:
        page = http.get(url)
        action = re.search(r'<form method="post" action="([^"]+)">', page.text)
        if page.status_code != 200 or action is None:
            print(f"no login form at {page.url}: {page.status_code}", file=sys.stderr)
            return 1
        form = {
            html.unescape(k): html.unescape(v)
            for k, v in re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"', page.text)
        }
        form.update({"email": email, "groups": groups})
        done = http.post(html.unescape(action.group(1)), data=form)
        print(f"signed in as {email}; landed on {done.url.copy_with(query=None)} ({done.status_code})", file=sys.stderr)
        return 0 if done.status_code < 400 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
