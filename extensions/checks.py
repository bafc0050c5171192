"""System checks: an entry point that fails to import or names a bad manifest is an error
at start-up, naming the entry point, rather than a platform that silently goes missing."""

from django.core.checks import Error, register

from extensions.discovery import discovery_problems


@register()
def check_entry_points(app_configs, **kwargs):
    return [
        Error(problem, hint="Fix or uninstall the package.", id="extensions.E001")
        for problem in discovery_problems()
    ]
