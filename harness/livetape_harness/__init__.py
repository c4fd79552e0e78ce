"""What the tests and the benchmarks share: a live server in a child process, publishers,
media checks, a headless browser and third-party WHIP clients."""
