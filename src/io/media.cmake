# Images (PNG/JPEG decode, MNIST-style preprocessing) and plots (PLplot, cairo).
