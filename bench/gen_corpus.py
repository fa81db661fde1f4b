#!/usr/bin/env python3
"""Deterministic word corpus for word-count benchmarks.

Zipf-distributed words (s=1.1) over a fixed vocabulary, 8..16 words a line.
Usage: gen_corpus.py MEGABYTES [SEED] > corpus.txt
`make bench` writes the 50 MiB corpus with seed 42 (words=7528373 distinct=99250).
"""
import random, sys, bisect

def main():
    mb = float(sys.argv[1]) if len(sys.argv) > 1 else 10
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 42
    rng = random.Random(seed)
    vocab_size = 100_000
    letters = "abcdefghijklmnopqrstuvwxyz"
    vocab = []
    seen = set()
    while len(vocab) < vocab_size:
        n = rng.randint(2, 10)
        w = "".join(rng.choice(letters) for _ in range(n))
        if w not in seen:
            seen.add(w); vocab.append(w)
    weights = [1.0 / (i + 1) ** 1.1 for i in range(vocab_size)]
    cum, acc = [], 0.0
    for w in weights:
        acc += w; cum.append(acc)
    target = int(mb * 1024 * 1024)
    out, size = [], 0
    write = sys.stdout.write
    while size < target:
        k = rng.randint(8, 16)
        line = " ".join(vocab[bisect.bisect_left(cum, rng.random() * acc)] for _ in range(k)) + "\n"
        write(line); size += len(line)

if __name__ == "__main__":
    main()
