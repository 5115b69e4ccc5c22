"""Operations: evaluation harness, reports, KPIs."""
