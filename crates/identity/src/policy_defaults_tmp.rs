use auth::RuleDefault;
pub const RULES: &[RuleDefault] = &[];
