using System.Globalization;
using GanInference.Onnx.Proto;
using Google.Protobuf;

namespace GanInference.Onnx;

/// <summary>
/// Builds one ONNX graph (opset 17, IR version 8) node by node, checking as it goes that every value a
/// node reads is already defined, so a mistake is reported where it is made rather than by the
/// runtime that later fails to load the file.
/// </summary>
public sealed class OnnxGraphBuilder
{
    /// <summary>The default-domain operator set every model imports.</summary>
    public const int Opset = 17;

    /// <summary>The IR version written: 8 is the newest Debian's python3-onnx 1.12 checks.</summary>
    public const int IrVersion = 8;

    private readonly GraphProto _graph;
    private readonly HashSet<string> _defined = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _nameCounters = new(StringComparer.Ordinal);
    private int _nodeCount;

    /// <summary>Starts an empty graph.</summary>
    public OnnxGraphBuilder(string graphName = "main")
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(graphName);
        _graph = new GraphProto { Name = graphName };
    }

    /// <summary>Declares a graph input; returns its name for use as a node input.</summary>
    public string Input(string name, OnnxType type, params Dim[] shape)
    {
        Define(name);
        _graph.Input.Add(ValueInfo(name, type, shape));
        return name;
    }

    /// <summary>Declares a graph output; a node (or input) must define a value of that name.</summary>
    public void Output(string name, OnnxType type, params Dim[] shape)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        if (_graph.Output.Any(o => o.Name == name))
        {
            throw new ArgumentException($"Output '{name}' is declared twice.", nameof(name));
        }

        _graph.Output.Add(ValueInfo(name, type, shape));
    }

    /// <summary>Adds a float32 constant tensor (weights); returns its name.</summary>
    public string Initializer(string name, ReadOnlySpan<float> values, params long[] dims) =>
        AddInitializer(OnnxTensors.Create(name, values, dims));

    /// <summary>Adds an int64 constant tensor (shapes, indices); returns its name.</summary>
    public string Initializer(string name, ReadOnlySpan<long> values, params long[] dims) =>
        AddInitializer(OnnxTensors.Create(name, values, dims));

    /// <summary>Adds an int32 constant tensor; returns its name.</summary>
    public string Initializer(string name, ReadOnlySpan<int> values, params long[] dims) =>
        AddInitializer(OnnxTensors.Create(name, values, dims));

    /// <summary>A value name not yet used in this graph, derived from <paramref name="prefix"/>.</summary>
    public string UniqueName(string prefix)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(prefix);
        while (true)
        {
            _nameCounters.TryGetValue(prefix, out var n);
            _nameCounters[prefix] = n + 1;
            var candidate = n == 0 && !_defined.Contains(prefix) ? prefix : string.Create(CultureInfo.InvariantCulture, $"{prefix}_{n}");
            if (!_defined.Contains(candidate))
            {
                return candidate;
            }
        }
    }

    /// <summary>Adds a node with one output named after its operator; returns the output's name.</summary>
    public string Node(string opType, IReadOnlyList<string> inputs, params OnnxAttribute[] attributes) =>
        Node(opType, inputs, UniqueName(opType.ToLowerInvariant()), attributes);

    /// <summary>Adds a node whose single output has the given name (e.g. a graph output).</summary>
    public string Node(string opType, IReadOnlyList<string> inputs, string output, params OnnxAttribute[] attributes) =>
        AddNode(opType, inputs, [output], attributes)[0];

    /// <summary>Adds a node with several outputs, auto-named; returns them in order.</summary>
    public string[] NodeMulti(string opType, IReadOnlyList<string> inputs, int outputCount, params OnnxAttribute[] attributes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(outputCount, 1);
        // The counter behind UniqueName advances per call, so the names differ from each other too.
        var prefix = opType.ToLowerInvariant();
        var outputs = new string[outputCount];
        for (var i = 0; i < outputCount; i++)
        {
            outputs[i] = UniqueName(prefix);
        }

        return AddNode(opType, inputs, outputs, attributes);
    }

    /// <summary>The finished model. Fails if a declared output is never produced.</summary>
    public ModelProto ToModel(
        string producerName = "GanInference",
        string producerVersion = "1.0",
        IReadOnlyDictionary<string, string>? metadata = null,
        string? docString = null)
    {
        foreach (var output in _graph.Output)
        {
            if (!_defined.Contains(output.Name))
            {
                throw new InvalidOperationException($"Graph output '{output.Name}' is declared but no node produces it.");
            }
        }

        if (_graph.Output.Count == 0)
        {
            throw new InvalidOperationException("The graph has no outputs.");
        }

        var model = new ModelProto
        {
            IrVersion = IrVersion,
            ProducerName = producerName,
            ProducerVersion = producerVersion,
            Graph = _graph.Clone(),
        };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = string.Empty, Version = Opset });
        if (docString is not null)
        {
            model.DocString = docString;
        }

        if (metadata is not null)
        {
            foreach (var (key, value) in metadata.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            {
                model.MetadataProps.Add(new StringStringEntryProto { Key = key, Value = value });
            }
        }

        return model;
    }

    /// <summary>The finished model as ONNX file bytes.</summary>
    public byte[] ToBytes(
        string producerName = "GanInference",
        string producerVersion = "1.0",
        IReadOnlyDictionary<string, string>? metadata = null,
        string? docString = null) =>
        ToModel(producerName, producerVersion, metadata, docString).ToByteArray();

    /// <summary>Writes the finished model to <paramref name="path"/>.</summary>
    public void Save(
        string path,
        string producerName = "GanInference",
        string producerVersion = "1.0",
        IReadOnlyDictionary<string, string>? metadata = null,
        string? docString = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        File.WriteAllBytes(path, ToBytes(producerName, producerVersion, metadata, docString));
    }

    private string[] AddNode(string opType, IReadOnlyList<string> inputs, string[] outputs, OnnxAttribute[] attributes)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(opType);
        ArgumentNullException.ThrowIfNull(inputs);
        foreach (var input in inputs)
        {
            // "" marks an omitted optional input, as the ONNX spec allows.
            if (input.Length > 0 && !_defined.Contains(input))
            {
                throw new ArgumentException($"{opType} node reads '{input}', which no input, initializer or earlier node defines.", nameof(inputs));
            }
        }

        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var attribute in attributes)
        {
            if (!names.Add(attribute.Name))
            {
                throw new ArgumentException($"{opType} node sets attribute '{attribute.Name}' twice.", nameof(attributes));
            }
        }

        foreach (var output in outputs)
        {
            Define(output);
        }

        var node = new NodeProto
        {
            OpType = opType,
            Name = string.Create(CultureInfo.InvariantCulture, $"{opType}_{_nodeCount++}"),
        };
        node.Input.AddRange(inputs);
        node.Output.AddRange(outputs);
        node.Attribute.AddRange(attributes.Select(a => a.Proto));
        _graph.Node.Add(node);
        return outputs;
    }

    private string AddInitializer(TensorProto tensor)
    {
        Define(tensor.Name);
        _graph.Initializer.Add(tensor);
        return tensor.Name;
    }

    private void Define(string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        if (!_defined.Add(name))
        {
            throw new ArgumentException($"The value name '{name}' is already defined in this graph.", nameof(name));
        }
    }

    private static ValueInfoProto ValueInfo(string name, OnnxType type, Dim[] shape)
    {
        ArgumentNullException.ThrowIfNull(shape);
        var tensorShape = new TensorShapeProto();
        foreach (var dim in shape)
        {
            tensorShape.Dim.Add(dim.Symbol is { } symbol
                ? new TensorShapeProto.Types.Dimension { DimParam = symbol }
                : new TensorShapeProto.Types.Dimension { DimValue = dim.Size ?? 0 });
        }

        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)type, Shape = tensorShape } },
        };
    }
}
