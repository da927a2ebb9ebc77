namespace GanInference.Onnx;

/// <summary>One dimension of a graph input or output: a fixed size or a symbolic name.</summary>
public readonly record struct Dim
{
    private Dim(long? size, string? symbol)
    {
        Size = size;
        Symbol = symbol;
    }

    /// <summary>The symbolic batch axis every exported generator uses.</summary>
    public static Dim Batch { get; } = new(null, "batch");

    /// <summary>The fixed size, or null for a symbolic dimension.</summary>
    public long? Size { get; }

    /// <summary>The symbolic name, or null for a fixed dimension.</summary>
    public string? Symbol { get; }

    /// <summary>A dimension known only at run time, named so that equal names mean equal sizes.</summary>
    public static Dim Symbolic(string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        return new Dim(null, name);
    }

    /// <summary>A fixed dimension.</summary>
    public static Dim Fixed(long size)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(size);
        return new Dim(size, null);
    }

    /// <summary>A fixed dimension from its size.</summary>
    public static implicit operator Dim(long size) => Fixed(size);

    /// <inheritdoc />
    public override string ToString() => Symbol ?? Size!.Value.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
