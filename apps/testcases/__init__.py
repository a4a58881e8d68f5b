"""Test cases of workflows: saved scenarios (MOCK or LIVE) with an expected result, run in the
sandbox on a worker (the editor's Test Cases tab, the publish gate) or in-process
(`manage.py workflow test`), with results kept per code hash and version.

- models.py: TestCase, TestRun (one request to run cases on one piece of code), TestResult;
- expect.py: equality with a diff, JSON-path assertions (pure);
- scan.py: the connector and HTTP calls in the code, offered as mock rows (pure);
- mockhost.py: the host of a MOCK run (mocks, in-memory state, nothing reaches the network);
- runner.py: one case in the sandbox, judged and recorded;
- services.py / selectors.py / views.py: cases, runs, the tab, the gate, Save as test case;
- files.py: `<slug>.tests.json`, read and written by `manage.py workflow`."""
