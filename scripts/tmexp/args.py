"""argparse with usage errors in one line, "PROG: error: ...", exit 2 (no
usage block), for every script here; subcommand parsers inherit it."""
import argparse


class Parser(argparse.ArgumentParser):
    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")
