"""Built-in benchmarks: one declaration file each (benchmarks/<name>.yaml, the same format as a
user's benchmark file), in the order the board shows them. Read lazily by harness.registry."""

BENCHMARKS = {
    "dream": "dream.yaml",
    "mvbench": "mvbench.yaml",
    "next-qa": "next-qa.yaml",
    "egoschema": "egoschema.yaml",
    "video-mme": "video-mme.yaml",
    "msvd-qa": "msvd-qa.yaml",
    "msr-vtt-qa": "msr-vtt-qa.yaml",
    "tgif-qa": "tgif-qa.yaml",
    "anet-qa": "anet-qa.yaml",
    "msvd-caption": "msvd-caption.yaml",
    "msr-vtt-caption": "msr-vtt-caption.yaml",
    "vatex-caption": "vatex-caption.yaml",
    "mira-caption": "mira-caption.yaml",  # published numbers only: no metric declared
}
