"""A host error's details reach the JS Error, the step and RunResult.error; a host can add
values (credentials) to the run's redaction."""

from __future__ import annotations

from apps.runtime import HostError, Limits, run_workflow
from tests.runtime.conftest import InMemoryHost

DEBUG = {
    "step": "getThing",
    "datasourceDebug": {"name": "getThing", "statusCode": 404, "jsonObject": {"error": "nope"}},
}


def failing_host(**kwargs) -> InMemoryHost:
    return InMemoryHost(
        connectors={
            "acme.getThing": HostError(
                "DATASOURCE_CONNECTION_ERROR", "acme.getThing failed", details=DEBUG, **kwargs
            )
        }
    )


def test_details_are_fields_of_the_caught_error():
    code = (
        "export default async () => {\n"
        "  try { await fastn.connector.acme.getThing({}) } catch (err) {\n"
        "    return {code: err.code, step: err.step, debug: err.datasourceDebug,\n"
        "            retryable: err.retryable, message: err.message};\n"
        "  }\n"
        "}\n"
    )
    result = run_workflow(code, {}, failing_host())
    assert result.status == "completed", result.error
    assert result.output == {
        "code": "DATASOURCE_CONNECTION_ERROR",
        "step": "getThing",
        "debug": DEBUG["datasourceDebug"],
        "retryable": False,
        "message": "acme.getThing failed",
    }
    assert result.steps[0]["error"]["details"] == DEBUG


def test_details_end_up_in_the_run_error_when_uncaught():
    code = "export default async () => { await fastn.connector.acme.getThing({}) }"
    result = run_workflow(code, {}, failing_host(permanent=False))
    assert result.status == "failed"
    assert result.error["code"] == "RUNTIME_ERROR"
    assert result.error["details"] == {"code": "DATASOURCE_CONNECTION_ERROR", **DEBUG}
    assert result.retryable is True


def test_details_cannot_overwrite_the_error_identity():
    host = InMemoryHost(
        connectors={
            "acme.x": HostError("E", "real", details={"code": "FAKE", "message": "fake", "n": 1})
        }
    )
    code = (
        "export default async () => { try { await fastn.connector.acme.x() } "
        "catch (e) { return [e.code, e.message, e.n] } }"
    )
    assert run_workflow(code, {}, host).output == ["E", "real", 1]


def test_a_rethrown_plain_error_carries_no_details():
    code = (
        "export default async () => { try { await fastn.connector.acme.getThing({}) } "
        "catch (e) { throw new Error('wrapped: ' + e.message) } }"
    )
    result = run_workflow(code, {}, failing_host())
    assert "details" not in result.error


class CredentialHost(InMemoryHost):
    def attach_redactor(self, redactor) -> None:
        self.redactor = redactor

    def connector_call(self, connector, action, params):
        self.redactor.add("cred-0123456789")
        return {"status": 200, "echo": "cred-0123456789"}


def test_values_a_host_adds_are_redacted_everywhere():
    code = (
        "export default async () => { const r = await fastn.connector.acme.echo({});\n"
        "  console.log('got', r.echo); return r }"
    )
    result = run_workflow(code, {}, CredentialHost(), Limits(timeout_s=10))
    assert result.output == {"status": 200, "echo": "[REDACTED]"}
    assert "cred-0123456789" not in str(result.logs) + str(result.steps)
