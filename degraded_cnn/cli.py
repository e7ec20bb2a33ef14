"""The command-line convention of every script: a user's mistake (bad data or parameter, missing
or unreadable file) is one `error:` line on stderr with exit status 2, never a traceback."""
import contextlib
import os
import sys

# Keras' backends print start-up chatter; a user asked for an answer, not for their logs.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

USER_ERROR, INTERRUPTED = 2, 130
LR_DECAYS = ("cosine", "none")


def add_verbose_flag(parser):
    """--verbose: show the backend's start-up log lines (import_backend hides them)."""
    parser.add_argument("--verbose", action="store_true",
                        help="show the backend's start-up log lines")


def add_learning_rate_flags(group, initial, decay):
    """--learning-rate and --lr-decay (training/loop.py's learning_rate)."""
    group.add_argument("--learning-rate", type=float, default=initial, help="Adamax, initial")
    group.add_argument("--lr-decay", choices=LR_DECAYS, default=decay,
                       help="cosine decay to 1%% over --epochs, or a constant rate")


def run(prog, task):
    """Run `task()` and return its exit status (what it returns, 0 for None); report a user's
    mistake in one line on stderr with exit status 2, and an interruption with status 130."""
    try:
        return task() or 0
    except (ValueError, OSError) as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        return USER_ERROR
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return INTERRUPTED


@contextlib.contextmanager
def quiet_stderr():
    """Send file descriptor 2 (where C++ libraries log) to /dev/null for the block."""
    sys.stderr.flush()
    saved = os.dup(2)
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 2)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def import_backend(verbose=False):
    """Import Keras and its backend now, before any work: the backend's start-up log lines
    (TensorFlow's C++ logging, which no Python setting silences) are hidden unless `verbose`."""
    if verbose:
        import keras  # noqa: F401
        return
    with quiet_stderr():
        import keras  # noqa: F401

