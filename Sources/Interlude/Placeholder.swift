// Placeholder: the runtime lands with issue 2.
