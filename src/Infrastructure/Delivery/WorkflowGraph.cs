using System.Text.Json.Nodes;

namespace Capstan.Infrastructure.Delivery;

/// <summary>A canvas node: <c>{id, type, position{x,y}, data{…}}</c>, kept as the UI sent it.</summary>
public sealed record WorkflowNode(string Id, string Type, JsonObject Raw)
{
    public NodeData Data => NodeData.Of(Raw["data"]);

    public JsonObject DataObject => Raw["data"] as JsonObject ?? [];
}

/// <summary>A canvas edge: <c>{id, source, target, sourceHandle?, targetHandle?, type?}</c>.</summary>
public sealed record WorkflowEdge(string Id, string Source, string Target, JsonObject Raw);

/// <summary>A structural problem of a graph, addressed like a validation field (<c>nodes[2].id</c>).</summary>
public sealed record GraphProblem(string Field, string Message);

/// <summary>
/// A workflow's nodes and edges. Parsing checks the structure every slice relies on (objects with string ids and
/// types, unique node ids, edges between existing nodes); execution order is Kahn's topological sort, stable in the
/// order nodes were drawn, and a cycle is reported with the nodes on it.
/// </summary>
public sealed class WorkflowGraph
{
    public const int MaxNodes = 500;
    public const int MaxEdges = 2000;

    private WorkflowGraph(IReadOnlyList<WorkflowNode> nodes, IReadOnlyList<WorkflowEdge> edges)
    {
        Nodes = nodes;
        Edges = edges;
    }

    public IReadOnlyList<WorkflowNode> Nodes { get; }

    public IReadOnlyList<WorkflowEdge> Edges { get; }

    public WorkflowNode? Node(string id) => Nodes.FirstOrDefault(node => node.Id == id);

    /// <summary>Nodes with an edge into <paramref name="id"/>.</summary>
    public IEnumerable<WorkflowNode> Sources(string id) =>
        Edges.Where(edge => edge.Target == id).Select(edge => Node(edge.Source)).OfType<WorkflowNode>();

    /// <summary>Nodes an edge of <paramref name="id"/> points at.</summary>
    public IEnumerable<WorkflowNode> Targets(string id) =>
        Edges.Where(edge => edge.Source == id).Select(edge => Node(edge.Target)).OfType<WorkflowNode>();

    /// <summary>Nodes joined to <paramref name="id"/> by an edge in either direction.</summary>
    public IEnumerable<WorkflowNode> Neighbours(string id) => Targets(id).Concat(Sources(id)).DistinctBy(node => node.Id);

    /// <summary>Parses stored (already checked) JSON; structural problems throw.</summary>
    public static WorkflowGraph Parse(string nodesJson, string edgesJson) =>
        Parse(JsonNode.Parse(nodesJson) as JsonArray ?? [], JsonNode.Parse(edgesJson) as JsonArray ?? []);

    public static WorkflowGraph Parse(JsonArray nodes, JsonArray edges)
    {
        var problems = Check(nodes, edges, out var graph);
        return problems.Count == 0 ? graph! : throw new FormatException(problems[0].Field + ": " + problems[0].Message);
    }

    /// <summary>Checks a graph sent by a client; on success <paramref name="graph"/> holds it.</summary>
    public static List<GraphProblem> Check(JsonNode? nodesNode, JsonNode? edgesNode, out WorkflowGraph? graph, string nodesField = "nodes", string edgesField = "edges")
    {
        graph = null;
        var problems = new List<GraphProblem>();
        if (nodesNode is not null and not JsonArray)
        {
            problems.Add(new(nodesField, "nodes must be an array"));
        }

        if (edgesNode is not null and not JsonArray)
        {
            problems.Add(new(edgesField, "edges must be an array"));
        }

        if (problems.Count > 0)
        {
            return problems;
        }

        var nodeArray = nodesNode as JsonArray ?? [];
        var edgeArray = edgesNode as JsonArray ?? [];
        if (nodeArray.Count > MaxNodes)
        {
            problems.Add(new(nodesField, $"a workflow holds at most {MaxNodes} nodes"));
        }

        if (edgeArray.Count > MaxEdges)
        {
            problems.Add(new(edgesField, $"a workflow holds at most {MaxEdges} edges"));
        }

        var nodes = new List<WorkflowNode>();
        var ids = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < nodeArray.Count; i++)
        {
            var field = $"{nodesField}[{i}]";
            if (nodeArray[i] is not JsonObject node)
            {
                problems.Add(new(field, "each node must be an object"));
                continue;
            }

            var id = NodeData.Text(node["id"]);
            var type = NodeData.Text(node["type"]);
            if (id is null || id.Length > 200)
            {
                problems.Add(new(field + ".id", "each node needs an id (a string of at most 200 characters)"));
                continue;
            }

            if (!ids.Add(id))
            {
                problems.Add(new(field + ".id", $"node id '{id}' is used more than once"));
                continue;
            }

            if (type is null || type.Length > 100)
            {
                problems.Add(new(field + ".type", "each node needs a type"));
                continue;
            }

            if (node["data"] is not null and not JsonObject)
            {
                problems.Add(new(field + ".data", "data must be an object"));
                continue;
            }

            if (node["position"] is not null and not JsonObject)
            {
                problems.Add(new(field + ".position", "position must be an object with x and y"));
                continue;
            }

            nodes.Add(new WorkflowNode(id, type, node));
        }

        var edges = new List<WorkflowEdge>();
        var edgeIds = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < edgeArray.Count; i++)
        {
            var field = $"{edgesField}[{i}]";
            if (edgeArray[i] is not JsonObject edge)
            {
                problems.Add(new(field, "each edge must be an object"));
                continue;
            }

            var source = NodeData.Text(edge["source"]);
            var target = NodeData.Text(edge["target"]);
            var id = NodeData.Text(edge["id"]) ?? $"{source}-{target}";
            if (source is null || target is null)
            {
                problems.Add(new(field, "each edge needs a source and a target"));
                continue;
            }

            if (!ids.Contains(source))
            {
                problems.Add(new(field + ".source", $"edge '{id}' starts at unknown node '{source}'"));
                continue;
            }

            if (!ids.Contains(target))
            {
                problems.Add(new(field + ".target", $"edge '{id}' ends at unknown node '{target}'"));
                continue;
            }

            if (!edgeIds.Add(id))
            {
                problems.Add(new(field + ".id", $"edge id '{id}' is used more than once"));
                continue;
            }

            edges.Add(new WorkflowEdge(id, source, target, edge));
        }

        if (problems.Count == 0)
        {
            graph = new WorkflowGraph(nodes, edges);
        }

        return problems;
    }

    /// <summary>Kahn's algorithm; ties keep the drawing order. Returns null and the nodes on a cycle when there is one.</summary>
    public IReadOnlyList<WorkflowNode>? ExecutionOrder(out IReadOnlyList<string> cycle)
    {
        var indegree = Nodes.ToDictionary(node => node.Id, _ => 0, StringComparer.Ordinal);
        foreach (var edge in Edges)
        {
            indegree[edge.Target]++;
        }

        var order = new List<WorkflowNode>();
        var ready = new List<WorkflowNode>(Nodes.Where(node => indegree[node.Id] == 0));
        while (ready.Count > 0)
        {
            var next = ready[0];
            ready.RemoveAt(0);
            order.Add(next);
            foreach (var edge in Edges.Where(edge => edge.Source == next.Id))
            {
                if (--indegree[edge.Target] == 0)
                {
                    ready.Add(Node(edge.Target)!);
                    ready.Sort((a, b) => IndexOf(a).CompareTo(IndexOf(b)));
                }
            }
        }

        if (order.Count == Nodes.Count)
        {
            cycle = [];
            return order;
        }

        cycle = [.. Nodes.Where(node => indegree[node.Id] > 0).Select(node => node.Id)];
        return null;
    }

    private int IndexOf(WorkflowNode node)
    {
        for (var i = 0; i < Nodes.Count; i++)
        {
            if (ReferenceEquals(Nodes[i], node))
            {
                return i;
            }
        }

        return int.MaxValue;
    }
}
