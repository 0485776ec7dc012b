"""What the script tests (hang_test.py, interrupt_test.py, output_test.py, startup_test.py) share: a check that
failed, and the exit status of a script made of such checks. Each script runs as `python3 test/NAME.py`, so
this module is found beside it."""


class Failure(Exception):
    """A check that did not hold; its message names the case and what was seen."""


def exit_status(body):
    """Runs body(): 0 when every check in it held; else prints FAIL with the reason and returns 1."""
    try:
        body()
    except Failure as e:
        print(f"FAIL {e}")
        return 1
    return 0
