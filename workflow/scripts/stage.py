"""Every rule's script: the rule's job → its stage function (noisyprune.stages.adapter)."""

from noisyprune.stages.adapter import run_rule

# Guarded: DataLoader workers started by spawn or forkserver (macOS, Python 3.14 on Linux)
# import this script again and must not run the stage a second time.
if __name__ == "__main__":
    run_rule(snakemake)
