import Interlude
import InterludeExamples
import InterludeWorker

/// The graphs `interlude worker` hosts: every example. A deployment with its own graphs
/// builds its own executable and registers them the same way (see docs/running-workers.md).
enum ExampleRegistry {
    static func make(checkpointer: any Checkpointer) throws -> GraphRegistry {
        var registry = GraphRegistry()
        try registry.register(try ApprovalExample.makeGraph(checkpointer: checkpointer))
        try registry.register(try EditStateExample.makeGraph(checkpointer: checkpointer))
        try registry.register(try ToolReviewExample.makeGraph(checkpointer: checkpointer))
        try registry.register(try ValidatedInputExample.makeGraph(checkpointer: checkpointer))
        try registry.register(try MultiQuestionExample.makeGraph(checkpointer: checkpointer))
        try registry.register(try ConditionalInterruptExample.makeGraph(checkpointer: checkpointer))
        try registry.register(try TimeoutDefaultExample.makeGraph(checkpointer: checkpointer))
        try registry.register(try SubgraphReviewExample.makeGraph(checkpointer: checkpointer))
        // Not in ExampleCatalog: the graph of the fault tests (side effects counted in a file).
        try registry.register(try FaultProbeExample.makeGraph(checkpointer: checkpointer))
        // Not in ExampleCatalog either: the graphs of the approver, quorum, escalation and signed-answer tests.
        try registry.register(try GuardedApprovalExample.makeGraph(checkpointer: checkpointer))
        try registry.register(try QuorumApprovalExample.makeGraph(checkpointer: checkpointer))
        try registry.register(try EscalatingApprovalExample.makeGraph(checkpointer: checkpointer))
        return registry
    }
}
