"""`manage.py config get|set|diff|rollback NAMESPACE`: the configuration store from a shell."""

from django.core.management.base import BaseCommand

from extensions.config import cli


class Command(BaseCommand):
    help = "Show, change, compare or roll back a configuration namespace (core, or an extension)."

    def create_parser(self, prog_name, subcommand, **kwargs):
        # `rollback --version N` must win over Django's own `--version`.
        kwargs.setdefault("conflict_handler", "resolve")
        return super().create_parser(prog_name, subcommand, **kwargs)

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

        def sub(name: str, help: str):
            action = actions.add_parser(name, help=help)
            action.add_argument("namespace", help="core, or an extension's name")
            action.add_argument("--json", action="store_true", help="print the outcome as JSON")
            return action

        get = sub("get", "show the stored (or --effective) document")
        get.add_argument("--effective", action="store_true", help="with schema defaults")
        change = sub("set", "store a new version")
        change.add_argument("--file", help="a JSON file holding the whole document")
        change.add_argument("--data", help="the whole document as JSON text")
        change.add_argument("--set", dest="sets", action="append", default=[], metavar="PATH=VALUE")
        diff = sub("diff", "the JSON Patch between two versions")
        diff.add_argument("from_version", type=int, metavar="FROM")
        diff.add_argument("to_version", type=int, metavar="TO")
        back = sub("rollback", "restore a version as a new version")
        back.add_argument("--version", dest="to_version", type=int, help="the version to restore")
        for action in (change, back):
            action.add_argument("--reason", default="", help="why: recorded in the history")
            action.add_argument("--dry-run", action="store_true", help="show the change, make none")

    def handle(self, *args, **options):
        namespace, action = options["namespace"], options["action"]
        if action == "get":
            result = cli.get(namespace, effective=options["effective"])
        elif action == "set":
            document = cli.document_from(
                namespace, file=options["file"], data=options["data"], sets=options["sets"]
            )
            result = cli.set_document(
                namespace, document, reason=options["reason"], dry_run=options["dry_run"]
            )
        elif action == "diff":
            result = cli.diff(namespace, options["from_version"], options["to_version"])
        else:
            result = cli.rollback(
                namespace,
                options["to_version"],
                reason=options["reason"],
                dry_run=options["dry_run"],
            )
        cli.write(self, result, as_json=options["json"])
