public enum LeadctlPlaceholder {}
