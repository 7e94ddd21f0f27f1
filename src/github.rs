//! GitHub repository security advisories over HTTPS (issue 14; being written).
