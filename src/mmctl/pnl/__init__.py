"""PnL arithmetic (core): one-way position math, money quantization; reports come in a later issue."""
