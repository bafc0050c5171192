"""Templates cannot escape Jinja's sandbox, nor stall a worker with huge arithmetic.

Promise: a workflow author's template reaches only the data it is given (`event`, `steps`,
`config`). Known sandbox-escape payloads (the SSTI corpus: class hierarchies, globals of
built-in helpers, format-string tricks) and resource bombs fail as a one-line template
problem; none returns Python internals, and none runs code.
"""

import pytest

from orchestrator.workflows.templating import TemplateProblem, is_truthy, render_value

ESCAPES = [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ ''.__class__.__base__.__subclasses__() }}",
    "{{ ().__class__.__bases__[0].__subclasses__() }}",
    "{{ [].__class__.__base__.__subclasses__() }}",
    "{{ (1).__class__.__mro__ }}",
    "{{ event.__class__.__init__.__globals__ }}",
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "{{ joiner.__init__.__globals__.os.popen('id').read() }}",
    "{{ namespace.__init__.__globals__.os.popen('id').read() }}",
    "{{ lipsum.__globals__['os'].popen('id').read() }}",
    "{{ range.__self__.__import__('os').popen('id').read() }}",
    "{{ self._TemplateReference__context.cycler.__init__.__globals__.os }}",
    "{{ ''|attr('__class__')|attr('__mro__') }}",
    "{{ ''['__class__'] }}",
    "{{ event.data.__class__ }}",
    "{{ '{0.__class__.__mro__}'.format(event) }}",
    "{{ '%s'.__mod__.__self__.__class__ }}",
    "{% for c in ''.__class__.__mro__[1].__subclasses__() %}{{ c }}{% endfor %}",
    "{{ event.data.items.__self__.__class__ }}",
    "{{ steps.__class__.__subclasses__() }}",
]
BOMBS = [
    "{{ 10 ** 99999999 }}",
    "{{ (10 ** 100) ** 100000 }}",
    "{{ 2 ** 100000 }}",
    "{{ 'x' * 10 ** 9 }}",
    "{{ [0] * 10 ** 8 }}",
    "{{ range(10 ** 9) | list }}",
]
CONTEXT = {"event": {"type": "github.push", "data": {"ref": "main"}}, "steps": {}}


@pytest.mark.parametrize("payload", ESCAPES + BOMBS)
def test_escape_and_bomb_payloads_fail_as_a_template_problem(payload):
    with pytest.raises(TemplateProblem) as problem:
        render_value(payload, CONTEXT)
    assert "\n" not in str(problem.value)


@pytest.mark.parametrize("payload", ESCAPES)
def test_escape_payloads_in_conditions_reveal_nothing(payload):
    try:
        verdict = is_truthy(payload, CONTEXT)
    except TemplateProblem:
        return
    assert verdict is False


def test_ordinary_arithmetic_and_repetition_still_work():
    assert render_value("{{ 2 ** 10 }}", CONTEXT) == 1024
    assert render_value("{{ '-' * 3 }}", CONTEXT) == "---"
    assert render_value("{{ event.data.ref }}", CONTEXT) == "main"
