"""Active finding types of the catalogue: what the attack checks prove."""

from __future__ import annotations

from spyglass.scanner.catalogue import register
from spyglass.scanner.catalogue.passive import A01, A03, A05, A10, finding_type

CHEATSHEETS = "https://cheatsheetseries.owasp.org/cheatsheets/"
PORTSWIGGER = "https://portswigger.net/web-security/"

register(
    finding_type(
        "xss-reflected", "Reflected cross-site scripting", "xss", cwe=79, owasp=A03, severity="high", active=True,
        cvss="CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:H/I:L/A:N",
        description="A parameter is written into the page unescaped in a place where the browser runs it (new "
        "markup with an event handler, or code in a script). A link with a crafted value runs the attacker's script "
        "in the victim's session: account takeover, data theft, actions on the user's behalf.",
        remediation="Encode output for its context (HTML text, attribute, JavaScript string, URL) with the template "
        "engine's auto-escaping; never build script code from input; add a strict Content-Security-Policy.",
        references=(
            CHEATSHEETS + "Cross_Site_Scripting_Prevention_Cheat_Sheet.html",
            PORTSWIGGER + "cross-site-scripting/reflected",
        ),
    ),
    finding_type(
        "xss-stored", "Stored cross-site scripting", "xss", cwe=79, owasp=A03, severity="high", active=True,
        cvss="CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:L/I:L/A:N",
        description="Input submitted through a form is stored and later shown to visitors unescaped, so a script "
        "submitted once runs in every visitor's browser, with no link to click.",
        remediation="Escape stored content when rendering it (auto-escaping templates), sanitise rich text with an "
        "allow-list sanitiser, and add a strict Content-Security-Policy.",
        references=(
            CHEATSHEETS + "Cross_Site_Scripting_Prevention_Cheat_Sheet.html",
            PORTSWIGGER + "cross-site-scripting/stored",
        ),
    ),
    finding_type(
        "sql-injection", "SQL injection", "sqli", cwe=89, owasp=A03, severity="critical", active=True,
        cvss="CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
        description="A parameter is pasted into an SQL statement: database errors, true/false answers or delays "
        "controlled by the input prove it. Attackers can read and change the whole database and sometimes take over "
        "the server.",
        remediation="Use parametrised queries (placeholders) or an ORM for every statement; validate types (numbers "
        "as numbers); give the application's database account the least privilege it needs.",
        references=(
            CHEATSHEETS + "SQL_Injection_Prevention_Cheat_Sheet.html",
            PORTSWIGGER + "sql-injection",
        ),
    ),
    finding_type(
        "os-command-injection", "OS command injection", "command", cwe=78, owasp=A03, severity="critical", active=True,
        cvss="CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
        description="A parameter reaches a shell command: a harmless echo of a computed number came back. Anyone can "
        "run commands on the server.",
        remediation="Do not call a shell with input: use library functions, or run programs with an argument list "
        "(no shell) after validating the input against an allow-list.",
        references=(
            CHEATSHEETS + "OS_Command_Injection_Defense_Cheat_Sheet.html",
            PORTSWIGGER + "os-command-injection",
        ),
    ),
    finding_type(
        "path-traversal", "Path traversal / file inclusion", "traversal", cwe=22, owasp=A01, severity="high",
        active=True, cvss="CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N",
        description="A parameter names a file the server reads, and ../ sequences or absolute paths reach files "
        "outside the intended folder (a system file was returned): source code, configuration and keys can be read.",
        remediation="Map input to files through an allow-list or identifiers; otherwise resolve the path and check "
        "it stays inside the base folder before opening it.",
        references=("https://owasp.org/www-community/attacks/Path_Traversal", PORTSWIGGER + "file-path-traversal"),
    ),
    finding_type(
        "open-redirect", "Open redirect", "redirect", cwe=601, owasp=A01, severity="medium", active=True,
        cvss="CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N",
        description="A parameter sends visitors to any external site, which makes phishing links look like links to "
        "this site and can leak OAuth codes or tokens.",
        remediation="Redirect only to relative paths (not starting with // or /\\) or to an allow-list of "
        "destinations; prefer identifiers over URLs in parameters.",
        references=(CHEATSHEETS + "Unvalidated_Redirects_and_Forwards_Cheat_Sheet.html",),
    ),
    finding_type(
        "crlf-injection", "CRLF / HTTP header injection", "crlf", cwe=113, owasp=A03, severity="medium", active=True,
        cvss="CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N",
        description="Carriage-return/line-feed characters in a parameter end a response header and start a new "
        "one (a marked header appeared): attackers can set cookies, split responses and poison caches.",
        remediation="Reject or strip CR and LF from any value written into a header; use the framework's header API, "
        "which validates values.",
        references=("https://owasp.org/www-community/vulnerabilities/CRLF_Injection", "https://cwe.mitre.org/data/definitions/113.html"),
    ),
    finding_type(
        "ssti", "Server-side template injection", "ssti", cwe=1336, owasp=A03, severity="critical", active=True,
        cvss="CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
        description="Input becomes part of a server-side template and is evaluated (a multiplication came back "
        "computed). Template injection usually leads to running code on the server.",
        remediation="Never build templates from input: pass input as template data (variables); use a sandboxed "
        "engine for user-defined templates.",
        references=(PORTSWIGGER + "server-side-template-injection",),
    ),
    finding_type(
        "xxe", "XML external entity injection", "xxe", cwe=611, owasp=A05, severity="high", active=True,
        cvss="CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:L",
        description="The XML parser processes document type definitions and external entities: a local file was "
        "read into the response. Attackers can read files, reach internal services and exhaust memory.",
        remediation="Disable DTDs and external entities in the XML parser (e.g. defusedxml, or lxml with "
        "resolve_entities=False, load_dtd=False, no_network=True); accept JSON where possible.",
        references=(
            CHEATSHEETS + "XML_External_Entity_Prevention_Cheat_Sheet.html",
            PORTSWIGGER + "xxe",
        ),
    ),
    finding_type(
        "ssrf", "Server-side request forgery", "ssrf", cwe=918, owasp=A10, severity="high", active=True,
        cvss="CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:L/I:L/A:N",
        description="The server fetches a URL taken from a parameter: Spyglass's callback listener received the "
        "request. Attackers can reach internal services and cloud metadata endpoints from the server.",
        remediation="Fetch only allow-listed hosts; resolve names and refuse private, loopback and link-local "
        "addresses (on every redirect); do not return fetched content or errors verbatim.",
        references=(
            CHEATSHEETS + "Server_Side_Request_Forgery_Prevention_Cheat_Sheet.html",
            PORTSWIGGER + "ssrf",
        ),
    ),
    finding_type(
        "exposed-sensitive-file", "Sensitive file exposed", "files", cwe=538, owasp=A05, severity="high", active=True,
        cvss="CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N",
        description="A file that should never be public (version-control metadata, environment file with "
        "credentials, database dump, backup, key) can be downloaded.",
        remediation="Remove the file from the web root, rotate any credentials it holds, and deny dot-files and "
        "backup extensions in the web server configuration; deploy build artefacts, not working copies.",
        references=("https://owasp.org/www-project-web-security-testing-guide/latest/4-Web_Application_Security_Testing/02-Configuration_and_Deployment_Management_Testing/04-Review_Old_Backup_and_Unreferenced_Files_for_Sensitive_Information",),
    ),
    finding_type(
        "http-trace-enabled", "HTTP TRACE enabled", "methods", cwe=693, owasp=A05, severity="low", active=True,
        cvss="CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:N/A:N",
        description="The server answers TRACE by echoing the request, headers included (cross-site tracing can "
        "expose HttpOnly cookies and authentication headers through other flaws).",
        remediation="Disable TRACE (TraceEnable Off in Apache; deny the method in the proxy or framework).",
        references=("https://owasp.org/www-community/attacks/Cross_Site_Tracing",),
    ),
    finding_type(
        "http-dangerous-methods", "Dangerous HTTP methods advertised", "methods", cwe=749, owasp=A05, severity="low",
        active=True, cvss="CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:N/I:L/A:N",
        description="OPTIONS lists methods such as PUT, DELETE or WebDAV methods. If they really work without "
        "authorisation, files can be uploaded or deleted (Spyglass does not try them: it would change data).",
        remediation="Allow only the methods the application uses (usually GET, HEAD, POST) and require "
        "authorisation for the others.",
        references=("https://owasp.org/www-project-web-security-testing-guide/latest/4-Web_Application_Security_Testing/02-Configuration_and_Deployment_Management_Testing/06-Test_HTTP_Methods",),
    ),
    finding_type(
        "jsonp-callback-injection", "JSONP callback injection", "jsonp", cwe=79, owasp=A03, severity="medium",
        active=True, cvss="CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:L/I:L/A:N",
        description="A JSONP endpoint copies its callback parameter into the script it returns without checking "
        "it, so any page can run its own code there (Rosetta Flash, content-sniffing XSS) and read the data.",
        remediation="Replace JSONP with CORS; if JSONP must stay, accept only callback names matching "
        "^[A-Za-z_$][\\w$.]*$ and send X-Content-Type-Options: nosniff.",
        references=("https://cwe.mitre.org/data/definitions/79.html", "https://miki.it/blog/2014/7/8/abusing-jsonp-with-rosetta-flash/"),
    ),
)  # fmt: skip
