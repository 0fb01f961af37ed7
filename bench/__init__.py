"""``make bench``: cold import and peak memory of every function, pre-send CPU and throughput,
and how the retention job scales. ``python -m bench`` prints a table and writes
``bench/results.json``; each module also runs alone (``python -m bench.coldstart``, ...)."""
