import pytest

from tfjs_node import TfjsHarnessError, TfjsNode


@pytest.fixture(scope="session")
def tfjs():
    """One real TF.js 4.22 worker (Node, CPU backend) for the whole session.

    A missing Node.js or a failed `npm ci` FAILS the requesting tests (never skips): CI policy.
    """
    try:
        node = TfjsNode().start()
    except TfjsHarnessError as exc:
        pytest.fail("real TF.js harness unavailable: %s" % exc, pytrace=False)
    try:
        yield node
    finally:
        node.close()
