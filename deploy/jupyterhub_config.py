# JupyterHub on one machine with the CoP Workbook (README: "JupyterHub" and "From one laptop
# to an organisation"). Run it with `jupyterhub -f deploy/jupyterhub_config.py` from the
# Python environment where cop is installed (`pip install 'cop-workbook[hub,postgres]'`), with
# the Hub's proxy on PATH (`npm install -g configurable-http-proxy`).
#
# Every address, port and folder below comes from an environment variable with the default
# shown, so this file is used as it is: tests/e2e/test_hub.py and tests/e2e/test_two_servers.py
# run exactly this file (on free ports, in temporary folders, with test users).
import os  # the settings below are read from the Hub's environment
import sys  # sys.executable: the services run with the Hub's own Python, where cop is

c = get_config()  # noqa: F821 - JupyterHub's configuration object, given to this file


def setting(name, default):
    """The Hub's environment variable `name`, else `default` (empty counts as unset)."""
    return os.environ.get(name) or default


# -- the Hub itself -----------------------------------------------------------------------------
# Where people open the Hub. Keep it on 127.0.0.1 behind your HTTPS reverse proxy (nginx,
# Caddy) on the same machine; to serve HTTPS here instead, set COP_HUB_BIND_URL=https://:443
# and COP_HUB_SSL_CERT / COP_HUB_SSL_KEY (PEM files).
c.JupyterHub.bind_url = setting("COP_HUB_BIND_URL", "http://127.0.0.1:8000")
if setting("COP_HUB_SSL_CERT", ""):  # only when the Hub itself speaks HTTPS
    c.JupyterHub.ssl_cert = setting("COP_HUB_SSL_CERT", "")  # the certificate chain (PEM)
    c.JupyterHub.ssl_key = setting("COP_HUB_SSL_KEY", "")  # its private key (PEM)
# The Hub's API, which the proxy and the services call: this machine only.
c.JupyterHub.hub_bind_url = setting("COP_HUB_API_URL", "http://127.0.0.1:8081")
# The proxy's own API, which only the Hub calls: this machine only.
c.ConfigurableHTTPProxy.api_url = setting("COP_HUB_PROXY_API_URL", "http://127.0.0.1:8001")
# The Hub's own state (its user list, its cookie secret, process ids), not the workbook's.
hub_state = setting("COP_HUB_STATE_DIR", "/srv/jupyterhub")
c.JupyterHub.db_url = f"sqlite:///{hub_state}/jupyterhub.sqlite"  # users, groups, tokens
c.JupyterHub.cookie_secret_file = f"{hub_state}/jupyterhub_cookie_secret"  # made at first start
c.JupyterHub.pid_file = f"{hub_state}/jupyterhub.pid"  # the Hub's process id
c.ConfigurableHTTPProxy.pid_file = f"{hub_state}/proxy.pid"  # the proxy's process id
# Opening the Hub's address after signing in leads to the workbook's home page.
c.JupyterHub.default_url = "/services/cop/"

# -- who signs in -------------------------------------------------------------------------------
# The Hub signs people in; their Hub groups give their workbook roles (cop-coordinators,
# cop-facilitators, cop-supervisors, cop-practitioners; README, JupyterHub). Choose your
# organisation's sign-in here, for example (pip install oauthenticator):
#   c.JupyterHub.authenticator_class = "generic-oauth"
#   c.Authenticator.manage_groups = True  # groups from your identity provider
# and say who may sign in (someone in no cop group is refused by the workbook all the same):
#   c.Authenticator.allowed_users = {"sue", "ana"}
#   c.JupyterHub.load_groups = {"cop-supervisors": {"users": ["sue"]},
#                               "cop-practitioners": {"users": ["ana"]}}
# Without a choice the Hub uses this machine's accounts (PAM) and lets nobody in.

# -- the workbook's store -------------------------------------------------------------------------
# A managed service sees only the environment given here (and PATH, LANG): pass the workbook's
# settings on from the Hub's environment.
data_dir = setting("COP_DATA_DIR", "/srv/cop/data")  # frameworks/, protocols/ (and SQLite's file)
store_settings = {"COP_DATA_DIR": data_dir}
for name in (
    "COP_DATABASE_URL",  # postgresql://cop@db.example/cop: the store on PostgreSQL (README)
    "PGPASSWORD",  # its password, if it is not in the URL (or in ~/.pgpass)
    "COP_BUSY_TIMEOUT_MS",  # how long a save waits for another (default 5000)
    "COP_TIMEZONE",  # the time zone sessions are planned in (default UTC)
    "COP_MIN_GROUP",  # fewest answers before a summary shows (default 5)
    "COP_REPORTING_URL",  # the child-protection reporting page shown on case material
    "COP_REPORTING_LABEL",  # that link's text
    "COP_HUB_GROUP_ROLES",  # other Hub group names for the roles (README, JupyterHub)
):
    if os.environ.get(name):  # unset: the workbook's default
        store_settings[name] = os.environ[name]

# -- the workbook's services ---------------------------------------------------------------------
# People open /services/cop/ (the home page). Several participants' servers share the load of
# a large organisation on one store (PostgreSQL): COP_SERVE_PORTS=8866,8868 adds /services/cop-2/
# (people may use either; what one saves the other shows).
serve_ports = setting("COP_SERVE_PORTS", "8866").split(",")
review_port = setting("COP_REVIEW_PORT", "8867")  # the supervisors' review server
# Kernels started ahead per room page (default 4): set it to the largest room you expect.
pool = [f"--pool-size={os.environ['COP_POOL_SIZE']}"] if os.environ.get("COP_POOL_SIZE") else []
links = {
    # the supervisors' "Review reflections" card on the home page
    "COP_REVIEW_URL": "/services/cop-review/voila/render/supervisor_review.ipynb",
    # the review app's "Home" link
    "COP_HOME_URL": "/services/cop/",
}
cop = [sys.executable, "-m", "cop_widgets.cli"]  # the `cop` command of the Hub's Python
services = [
    *(
        {
            "name": "cop" if number == 1 else f"cop-{number}",  # served at /services/<name>/
            "url": f"http://127.0.0.1:{port.strip()}",  # where the Hub's proxy finds it
            # --hub: the Hub signs people in; --no-demo: no demonstration content in the store
            "command": [*cop, "serve", "--hub", f"--port={port.strip()}", "--no-demo", *pool],
            "environment": store_settings | links,  # the store and the links between services
            "oauth_no_confirm": True,  # no "allow access?" page on the way in
        }
        for number, port in enumerate(serve_ports, start=1)
    ),
    {
        "name": "cop-review",  # /services/cop-review/: supervisors only
        "url": f"http://127.0.0.1:{review_port}",  # where the Hub's proxy finds it
        "command": [*cop, "review", "--hub", f"--port={review_port}"],  # the review app
        "environment": store_settings | links,  # the same store
        "oauth_no_confirm": True,  # no "allow access?" page on the way in
    },
]
c.JupyterHub.services = services  # the Hub starts each, stops it with itself, restarts it
c.JupyterHub.load_roles = [
    # every Hub user may open the services; the workbook decides what each one sees
    {"name": "user", "scopes": ["self", "access:services"]},
    # the services read a person's Hub groups at sign-in (their roles)
    {"name": "cop", "services": [s["name"] for s in services], "scopes": ["read:users:groups"]},
]
