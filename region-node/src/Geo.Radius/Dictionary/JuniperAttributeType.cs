namespace Geo.Radius.Dictionary;

/// <summary>Juniper Networks vendor attribute numbers (vendor 2636).</summary>
public static class JuniperAttributeType
{
    public const byte LocalUserName = 1;
    public const byte AllowCommands = 2;
    public const byte DenyCommands = 3;
    public const byte AllowConfiguration = 4;
    public const byte DenyConfiguration = 5;
    public const byte InteractiveCommand = 8;
    public const byte ConfigurationChange = 9;
    public const byte UserPermissions = 10;
    public const byte PrimaryDns = 31;
    public const byte PrimaryWins = 32;
    public const byte SecondaryDns = 33;
    public const byte SecondaryWins = 34;
    public const byte InterfaceId = 35;
    public const byte IpPoolName = 36;
    public const byte KeepAlive = 37;
    public const byte CosTrafficControlProfile = 38;
    public const byte CosParameter = 39;
    public const byte FirewallFilterName = 44;
    public const byte PolicerParameter = 45;
    public const byte LocalGroupName = 46;
    public const byte AvPair = 52;
}
