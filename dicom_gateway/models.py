"""Gateway models: none yet (exams, series and instances live in worklist)."""
