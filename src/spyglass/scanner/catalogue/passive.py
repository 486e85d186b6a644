"""Passive finding types of the catalogue (and the CVSS 3.1 base-score calculation both modules use).

Severities follow the CVSS 3.1 base score of each type's typical case (0.1-3.9 low, 4.0-6.9 medium,
7.0-8.9 high, 9.0+ critical), except hardening advice without a direct attack, which is "low" or "info".
"""

from __future__ import annotations

import math

from spyglass.scanner.catalogue import register
from spyglass.scanner.contract import FindingType, Severity

_WEIGHTS = {
    "AV": {"N": 0.85, "A": 0.62, "L": 0.55, "P": 0.2},
    "AC": {"L": 0.77, "H": 0.44},
    "UI": {"N": 0.85, "R": 0.62},
    "C": {"H": 0.56, "L": 0.22, "N": 0.0},
    "I": {"H": 0.56, "L": 0.22, "N": 0.0},
    "A": {"H": 0.56, "L": 0.22, "N": 0.0},
}
_PRIVILEGES = {"U": {"N": 0.85, "L": 0.62, "H": 0.27}, "C": {"N": 0.85, "L": 0.68, "H": 0.5}}


def _roundup(value: float) -> float:
    """CVSS 3.1's Roundup: the smallest one-decimal number >= value (specification appendix A)."""
    integer = round(value * 100_000)
    return integer / 100_000.0 if integer % 10_000 == 0 else (math.floor(integer / 10_000) + 1) / 10.0


def cvss31_base_score(vector: str) -> float:
    """The CVSS 3.1 base score of a vector like ``CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N``."""
    metrics = dict(part.split(":", 1) for part in vector.split("/")[1:])
    scope = metrics["S"]
    impact_base = 1 - (1 - _WEIGHTS["C"][metrics["C"]]) * (1 - _WEIGHTS["I"][metrics["I"]]) * (
        1 - _WEIGHTS["A"][metrics["A"]]
    )
    changed = 7.52 * (impact_base - 0.029) - 3.25 * (impact_base - 0.02) ** 15
    impact = 6.42 * impact_base if scope == "U" else changed
    exploitability = (
        8.22
        * _WEIGHTS["AV"][metrics["AV"]]
        * _WEIGHTS["AC"][metrics["AC"]]
        * _PRIVILEGES[scope][metrics["PR"]]
        * _WEIGHTS["UI"][metrics["UI"]]
    )
    if impact <= 0:
        return 0.0
    if scope == "U":
        return _roundup(min(impact + exploitability, 10))
    return _roundup(min(1.08 * (impact + exploitability), 10))


def finding_type(
    id: str,
    title: str,
    family: str,
    *,
    cwe: int,
    owasp: str,
    severity: Severity,
    cvss: str,
    description: str,
    remediation: str,
    references: tuple[str, ...] = (),
    active: bool = False,
) -> FindingType:
    """A catalogue entry whose CVSS score is computed from its vector."""
    return FindingType(
        id=id,
        title=title,
        family=family,
        cwe=cwe,
        owasp=owasp,
        severity=severity,
        description=description,
        remediation=remediation,
        references=references,
        cvss_vector=cvss,
        cvss_score=cvss31_base_score(cvss),
        active=active,
    )


A01 = "A01:2021-Broken Access Control"
A02 = "A02:2021-Cryptographic Failures"
A03 = "A03:2021-Injection"
A04 = "A04:2021-Insecure Design"
A05 = "A05:2021-Security Misconfiguration"
A06 = "A06:2021-Vulnerable and Outdated Components"
A07 = "A07:2021-Identification and Authentication Failures"
A08 = "A08:2021-Software and Data Integrity Failures"
A10 = "A10:2021-Server-Side Request Forgery"

OWASP_HEADERS = "https://owasp.org/www-project-secure-headers/"
MDN = "https://developer.mozilla.org/en-US/docs/Web/HTTP/Headers/"

register(
    finding_type(
        "csp-missing", "Content-Security-Policy header missing", "headers", cwe=693, owasp=A05, severity="low",
        cvss="CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:N/A:N",
        description="Pages are served without a Content-Security-Policy. A CSP is the browser's second line of "
        "defence against cross-site scripting and data injection: without it any injected script runs.",
        remediation="Send a Content-Security-Policy on every HTML response, starting from "
        "\"default-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'\" and allowing only "
        "the sources the site needs (nonces or hashes for inline scripts).",
        references=(MDN + "Content-Security-Policy", "https://cheatsheetseries.owasp.org/cheatsheets/Content_Security_Policy_Cheat_Sheet.html"),
    ),
    finding_type(
        "csp-weak", "Content-Security-Policy does not restrict scripts", "headers", cwe=693, owasp=A05, severity="low",
        cvss="CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:N/A:N",
        description="The Content-Security-Policy allows inline scripts, eval, any host or a whole scheme as a script "
        "source, so it would not stop an injected script.",
        remediation="Remove 'unsafe-inline', 'unsafe-eval', '*', 'http:', 'https:' and 'data:' from script-src and "
        "default-src; use nonces or hashes for the inline scripts you need and set object-src 'none'.",
        references=("https://csp-evaluator.withgoogle.com/", MDN + "Content-Security-Policy/script-src"),
    ),
    finding_type(
        "hsts-missing", "Strict-Transport-Security missing or too short", "headers", cwe=319, owasp=A02, severity="low",
        cvss="CVSS:3.1/AV:A/AC:H/PR:N/UI:R/S:U/C:L/I:L/A:N",
        description="The HTTPS site does not tell browsers to always use HTTPS (or only for a short time), so a "
        "network attacker can downgrade a visitor's first plain-HTTP request and intercept it (SSL stripping).",
        remediation="Send \"Strict-Transport-Security: max-age=31536000; includeSubDomains\" on every HTTPS response "
        "(and consider HSTS preloading).",
        references=(MDN + "Strict-Transport-Security", "https://cheatsheetseries.owasp.org/cheatsheets/HTTP_Strict_Transport_Security_Cheat_Sheet.html"),
    ),
    finding_type(
        "x-content-type-options-missing", "X-Content-Type-Options: nosniff missing", "headers", cwe=693, owasp=A05,
        severity="info", cvss="CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:N/I:L/A:N",
        description="Without \"X-Content-Type-Options: nosniff\" browsers may guess a response's type and run an "
        "uploaded or reflected file as a script or stylesheet.",
        remediation="Send \"X-Content-Type-Options: nosniff\" on every response and correct Content-Type headers.",
        references=(MDN + "X-Content-Type-Options", OWASP_HEADERS),
    ),
    finding_type(
        "clickjacking-protection-missing", "Clickjacking protection missing", "headers", cwe=1021, owasp=A05,
        severity="low", cvss="CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:N/I:L/A:N",
        description="Pages can be framed by any site (no X-Frame-Options and no CSP frame-ancestors), so an "
        "attacker can overlay them invisibly and trick users into clicking buttons (clickjacking).",
        remediation="Send \"Content-Security-Policy: frame-ancestors 'none'\" (or 'self') and, for older browsers, "
        "\"X-Frame-Options: DENY\" (or SAMEORIGIN).",
        references=("https://cheatsheetseries.owasp.org/cheatsheets/Clickjacking_Defense_Cheat_Sheet.html",),
    ),
    finding_type(
        "referrer-policy-missing", "Referrer-Policy missing or unsafe", "headers", cwe=200, owasp=A05, severity="info",
        cvss="CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:N/A:N",
        description="Without a strict Referrer-Policy, full URLs (with paths and query strings that may hold tokens "
        "or personal data) can leak to other sites in the Referer header.",
        remediation="Send \"Referrer-Policy: strict-origin-when-cross-origin\" (or no-referrer).",
        references=(MDN + "Referrer-Policy",),
    ),
    finding_type(
        "permissions-policy-missing", "Permissions-Policy missing", "headers", cwe=693, owasp=A05, severity="info",
        cvss="CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:N/A:N",
        description="No Permissions-Policy restricts powerful browser features (camera, microphone, geolocation, "
        "payment) for the site and the frames it embeds.",
        remediation="Send a Permissions-Policy that disables the features the site does not use, e.g. "
        "\"camera=(), microphone=(), geolocation=()\".",
        references=(MDN + "Permissions-Policy",),
    ),
    finding_type(
        "cookie-no-secure", "Cookie without the Secure flag", "cookies", cwe=614, owasp=A02, severity="low",
        cvss="CVSS:3.1/AV:A/AC:H/PR:N/UI:R/S:U/C:L/I:N/A:N",
        description="A cookie set by the HTTPS site lacks the Secure flag, so the browser also sends it over plain "
        "HTTP where a network attacker can read it.",
        remediation="Add Secure to every cookie the site sets over HTTPS.",
        references=(MDN + "Set-Cookie#secure", "https://owasp.org/www-community/controls/SecureCookieAttribute"),
    ),
    finding_type(
        "cookie-no-httponly", "Cookie without the HttpOnly flag", "cookies", cwe=1004, owasp=A05, severity="low",
        cvss="CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:N/A:N",
        description="A cookie lacks the HttpOnly flag, so scripts can read it: one cross-site scripting bug is "
        "enough to steal it (session hijacking when it is a session cookie).",
        remediation="Add HttpOnly to every cookie scripts do not need to read, session cookies above all.",
        references=("https://owasp.org/www-community/HttpOnly",),
    ),
    finding_type(
        "cookie-no-samesite", "Cookie without SameSite=Lax or Strict", "cookies", cwe=1275, owasp=A01, severity="low",
        cvss="CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:N/I:L/A:N",
        description="A cookie has no SameSite attribute (or SameSite=None), so browsers that do not default to Lax "
        "send it with cross-site requests, which helps cross-site request forgery.",
        remediation="Set SameSite=Lax (or Strict) on session and preference cookies.",
        references=(MDN + "Set-Cookie#samesitesamesite-value",),
    ),
    finding_type(
        "cors-misconfiguration", "CORS allows any origin", "cors", cwe=942, owasp=A05, severity="high",
        cvss="CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:H/I:L/A:N",
        description="The server copies any Origin (or \"null\") into Access-Control-Allow-Origin, so any web site a "
        "user visits can read these responses with the user's credentials when Allow-Credentials is true.",
        remediation="Compare the Origin against a fixed allow-list of trusted origins; never reflect it or trust "
        "\"null\"; send Vary: Origin.",
        references=("https://portswigger.net/web-security/cors", MDN + "Access-Control-Allow-Origin"),
    ),
    finding_type(
        "server-version-disclosure", "Server or framework version disclosed", "disclosure", cwe=497, owasp=A05,
        severity="info", cvss="CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N",
        description="A response header names the server software or framework with its version, which helps an "
        "attacker pick known exploits for that version.",
        remediation="Remove version numbers from Server, X-Powered-By and similar headers (e.g. ServerTokens Prod, "
        "expose_php = Off) and keep the software up to date.",
        references=("https://owasp.org/www-project-web-security-testing-guide/latest/4-Web_Application_Security_Testing/01-Information_Gathering/02-Fingerprint_Web_Server",),
    ),
    finding_type(
        "stack-trace-disclosure", "Stack trace or debug page disclosed", "disclosure", cwe=209, owasp=A05,
        severity="medium", cvss="CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:N/A:N",
        description="An error page shows a stack trace or a framework's debug page: file paths, code, library "
        "versions and sometimes configuration or data an attacker can use.",
        remediation="Turn debug mode off in production and show a generic error page; log the details on the server.",
        references=("https://owasp.org/www-community/Improper_Error_Handling", "https://cwe.mitre.org/data/definitions/209.html"),
    ),
    finding_type(
        "private-ip-disclosure", "Private IP address disclosed", "disclosure", cwe=200, owasp=A05, severity="info",
        cvss="CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N",
        description="A page contains an internal (RFC 1918) IP address, which reveals the internal network layout.",
        remediation="Remove internal addresses from pages, comments and headers.",
        references=("https://datatracker.ietf.org/doc/html/rfc1918",),
    ),
    finding_type(
        "source-map-exposed", "JavaScript source map exposed", "disclosure", cwe=540, owasp=A05, severity="low",
        cvss="CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:L/I:N/A:N",
        description="A script references its source map, which gives anyone the original, unminified source code "
        "with comments and internal names.",
        remediation="Do not deploy source maps to production (or serve them only to authenticated developers) and "
        "remove the sourceMappingURL comment.",
        references=(MDN + "SourceMap",),
    ),
    finding_type(
        "mixed-content", "Mixed content on an HTTPS page", "content", cwe=311, owasp=A02, severity="medium",
        cvss="CVSS:3.1/AV:A/AC:H/PR:N/UI:R/S:C/C:L/I:L/A:N",
        description="An HTTPS page loads resources over plain HTTP. A network attacker can read or replace them; a "
        "replaced script or frame takes over the page.",
        remediation="Load every resource over HTTPS (protocol-relative or https:// URLs) and consider "
        "\"Content-Security-Policy: upgrade-insecure-requests\".",
        references=("https://developer.mozilla.org/en-US/docs/Web/Security/Mixed_content",),
    ),
    finding_type(
        "form-over-http", "Password form sent without TLS", "forms", cwe=319, owasp=A02, severity="medium",
        cvss="CVSS:3.1/AV:A/AC:L/PR:N/UI:R/S:U/C:H/I:N/A:N",
        description="A form with a password field is served or submitted over plain HTTP, so credentials travel in "
        "clear text.",
        remediation="Serve the whole site over HTTPS, redirect HTTP to HTTPS and submit forms to https:// URLs.",
        references=("https://cheatsheetseries.owasp.org/cheatsheets/Transport_Layer_Security_Cheat_Sheet.html",),
    ),
    finding_type(
        "password-autocomplete", "Password field may be stored by the browser", "forms", cwe=522, owasp=A07,
        severity="info", cvss="CVSS:3.1/AV:P/AC:H/PR:N/UI:R/S:U/C:L/I:N/A:N",
        description="A password field has no autocomplete attribute (or \"on\"), so the site never decided whether "
        "browsers may store it; on shared computers a stored password can be reused by the next user. (Password "
        "managers are otherwise a good thing: this is advice, not a vulnerability.)",
        remediation="Decide per form: autocomplete=\"current-password\" on ordinary login forms (it helps password "
        "managers), autocomplete=\"off\" or \"new-password\" on forms used on shared devices.",
        references=(MDN.replace("HTTP/Headers/", "HTML/Attributes/autocomplete"),),
    ),
    finding_type(
        "missing-csrf-token", "State-changing form without an anti-CSRF token", "forms", cwe=352, owasp=A01,
        severity="medium", cvss="CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:N/I:L/A:N",
        description="A POST form carries no anti-CSRF token, so another site can make a logged-in user's browser "
        "submit it (cross-site request forgery).",
        remediation="Add a per-session (or per-request) unpredictable token to every state-changing form and check it "
        "on the server; also set SameSite on session cookies.",
        references=("https://cheatsheetseries.owasp.org/cheatsheets/Cross-Site_Request_Forgery_Prevention_Cheat_Sheet.html",),
    ),
    finding_type(
        "directory-listing", "Directory listing enabled", "content", cwe=548, owasp=A05, severity="medium",
        cvss="CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:N/A:N",
        description="The server lists a directory's files, which exposes files that were never meant to be linked "
        "(backups, configuration, data).",
        remediation="Disable automatic indexes (Options -Indexes, autoindex off) and add index pages where needed.",
        references=("https://cwe.mitre.org/data/definitions/548.html",),
    ),
    finding_type(
        "cacheable-sensitive-page", "Sensitive page may be cached", "content", cwe=525, owasp=A04, severity="low",
        cvss="CVSS:3.1/AV:L/AC:H/PR:N/UI:R/S:U/C:L/I:N/A:N",
        description="A login, account or similar page is served without \"Cache-Control: no-store\", so browsers and "
        "shared caches may keep its content and show it to the next user.",
        remediation="Send \"Cache-Control: no-store\" on pages with credentials or personal data.",
        references=("https://cheatsheetseries.owasp.org/cheatsheets/Session_Management_Cheat_Sheet.html#web-content-caching",),
    ),
    finding_type(
        "tls-certificate-invalid", "TLS certificate not valid", "tls", cwe=295, owasp=A02, severity="medium",
        cvss="CVSS:3.1/AV:A/AC:H/PR:N/UI:R/S:U/C:H/I:H/A:N",
        description="The TLS certificate is expired, self-signed, issued by an untrusted authority or not valid for "
        "the host name: browsers warn users, and users who learn to click through warnings can be intercepted.",
        remediation="Install a certificate from a trusted authority, valid for every host name of the site, and renew "
        "it automatically (e.g. with ACME / Let's Encrypt).",
        references=("https://cheatsheetseries.owasp.org/cheatsheets/Transport_Layer_Security_Cheat_Sheet.html#certificates",),
    ),
    finding_type(
        "tls-certificate-expiring", "TLS certificate expires soon", "tls", cwe=298, owasp=A02, severity="low",
        cvss="CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:N/I:N/A:L",
        description="The TLS certificate expires within 30 days; when it does, browsers will refuse the site.",
        remediation="Renew the certificate now and automate renewal.",
        references=("https://letsencrypt.org/docs/integration-guide/",),
    ),
    finding_type(
        "tls-legacy-protocol", "Legacy TLS protocol accepted", "tls", cwe=327, owasp=A02, severity="medium",
        cvss="CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:N",
        description="The server accepts TLS 1.0 or 1.1, deprecated protocols (RFC 8996) with known weaknesses.",
        remediation="Accept only TLS 1.2 and 1.3.",
        references=("https://datatracker.ietf.org/doc/html/rfc8996", "https://ssl-config.mozilla.org/"),
    ),
    finding_type(
        "http-not-redirected-to-https", "Site served over plain HTTP", "tls", cwe=319, owasp=A02, severity="medium",
        cvss="CVSS:3.1/AV:A/AC:L/PR:N/UI:R/S:U/C:L/I:L/A:N",
        description="The site answers over plain HTTP instead of redirecting to HTTPS, so everything users send and "
        "receive can be read and changed on the network.",
        remediation="Serve the site over HTTPS, answer every plain-HTTP request with a 301 redirect to its https:// "
        "URL and send Strict-Transport-Security.",
        references=("https://cheatsheetseries.owasp.org/cheatsheets/Transport_Layer_Security_Cheat_Sheet.html",),
    ),
    finding_type(
        "vulnerable-js-library", "JavaScript library with known vulnerabilities", "components", cwe=1104, owasp=A06,
        severity="medium", cvss="CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:C/C:L/I:L/A:N",
        description="The site serves a JavaScript library version with published vulnerabilities (the finding names "
        "the advisories and the version that fixes them).",
        remediation="Upgrade the library to the fixed version named in the finding (or later) and keep a dependency "
        "inventory that is checked for advisories.",
        references=("https://owasp.org/Top10/A06_2021-Vulnerable_and_Outdated_Components/", "https://retirejs.github.io/retire.js/"),
    ),
)  # fmt: skip
