"""parbench-gate-rates: the paired gate's (parbench-gate's) error rates and wall time on this machine.

Two subcommands, each with its own --help:
  collect  record interleaved rounds of one bench_parallel, plain in the arms A and A2 and with a known slowdown
           injected (--parbench_test_slowdown) in an arm per --slowdown, as JSON lines
  paired   replay gates on resampled rounds of those records: A/A false alarms, detection of each slowdown,
           and the gates' wall time
"""

import sys

from . import cli, gate_sim

PROG = "parbench-gate-rates"


def parser():
    p = cli.ArgumentParser(prog=PROG, description=__doc__, formatter_class=cli.argparse.RawDescriptionHelpFormatter)
    commands = p.add_subparsers(dest="command", required=True, metavar="{collect,paired}")
    collect = commands.add_parser("collect", help="record interleaved rounds (JSON lines) for 'paired'",
                                  description=gate_sim.COLLECT_HELP)
    gate_sim.add_collect_arguments(collect)
    collect.set_defaults(run=gate_sim.main_collect, parser=collect)
    paired = commands.add_parser("paired", help="error rates and wall time of gates replayed on the records",
                                 description=gate_sim.PAIRED_HELP)
    gate_sim.add_paired_arguments(paired)
    paired.set_defaults(run=gate_sim.main_paired, parser=paired)
    return p


def main(argv):
    args = parser().parse_args(argv)
    return args.run(args.parser, args)


def entry_point():
    """tools/parbench-gate-rates."""
    sys.exit(cli.run(PROG, main))
