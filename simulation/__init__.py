"""Stage 1: Brian2 simulation of neuron–astrocyte long-term plasticity (LTP).

``python -m simulation run`` simulates one configured condition and writes a tidy trace
table and the readout (mean long-term astrocytic process p^l at cycle boundaries) that the
``distill`` stage fits.
"""

