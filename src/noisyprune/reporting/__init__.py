"""Tables, plots and their rendering for results/ and the Snakemake report."""
