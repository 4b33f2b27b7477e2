"""Host the flower-federation components as a Pulumi component provider (package `flower-federation`).

Run by the Pulumi engine (never by hand): `pulumi package add <this directory>` starts it to read the
inferred schema and generate SDKs; programs in other languages then construct the components
through it. The library is importable because the plugin's virtualenv installs the repository
(`requirements.txt`: `-e ..`); no `sys.path` manipulation here.
"""

from importlib.metadata import version

from pulumi.provider.experimental import component_provider_host

from components import COMPONENTS, PACKAGE
from components._common import schema_version

#: Provider name: the package part of every type token (`flower-federation:index:<Type>`).
NAME = PACKAGE
#: Schema/SDK version: the installed library's version, as the semver a schema needs.
VERSION = schema_version(version("flower-federation"))

if __name__ == "__main__":
    component_provider_host(list(COMPONENTS), name=NAME, version=VERSION)
