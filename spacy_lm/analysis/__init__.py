"""Looking inside models: explanations, LM views, bias probes and slices, HTML views."""
