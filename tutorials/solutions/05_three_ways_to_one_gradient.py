caught = {
    "drop beta": {"autodiff, LIF detached", "finite differences, smooth LIF", "autodiff, LIF that never fires"},
    "flip the reset sign": {"autodiff, IF", "finite differences, smooth LIF", "autodiff, LIF that never fires"},
    "forget the reset term": {"autodiff, IF", "finite differences, smooth LIF", "autodiff, LIF that never fires"},
}
