enum _PlaceholderTokenizer {}
