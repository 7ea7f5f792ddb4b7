# random_split and DataLoader.
