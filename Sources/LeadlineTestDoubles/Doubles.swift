public enum TestDoublesPlaceholder {}
