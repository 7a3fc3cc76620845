extension CompiledGraph {
    /// This graph, storing its threads in `checkpointer` instead of the one it was compiled
    /// with. A worker binds every graph it hosts to its own store this way, so a graph is
    /// compiled once and the store is given once.
    public func withCheckpointer(_ checkpointer: any Checkpointer) -> CompiledGraph {
        var copy = self
        copy.checkpointer = checkpointer
        return copy
    }
}
