"""The command-line convention of every script: a user's mistake (bad data or parameter, missing
or unreadable file) is one `error:` line on stderr with exit status 2, never a traceback."""
import os
import sys

# Keras' backends print start-up chatter; a user asked for an answer, not for their logs.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

USER_ERROR, INTERRUPTED = 2, 130
LR_DECAYS = ("cosine", "none")


def add_learning_rate_flags(group, initial, decay):
    """--learning-rate and --lr-decay (training/loop.py's learning_rate)."""
    group.add_argument("--learning-rate", type=float, default=initial, help="Adamax, initial")
    group.add_argument("--lr-decay", choices=LR_DECAYS, default=decay,
                       help="cosine decay to 1%% over --epochs, or a constant rate")


def run(prog, task):
    """Run `task()`; report a user's mistake in one line on stderr with exit status 2, and an
    interruption with status 130."""
    try:
        task()
    except (ValueError, OSError) as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        return USER_ERROR
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return INTERRUPTED
    return 0
