package aci

import (
	"fmt"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

// ForAzure returns the configuration of a backend driving Azure Container
// Instances in a subscription, authenticated by azidentity's default
// credential chain (environment variables AZURE_CLIENT_ID/_TENANT_ID/
// _CLIENT_SECRET or a federated token, workload or managed identity, or the
// Azure CLI's login).
func ForAzure(subscription, resourceGroup, location, node string) (Config, error) {
	cred, err := azidentity.NewDefaultAzureCredential(nil)
	if err != nil {
		return Config{}, fmt.Errorf("aci backend: Azure credential: %w", err)
	}
	return Config{Credential: cred, Subscription: subscription, ResourceGroup: resourceGroup,
		Location: location, NodeName: node}, nil
}
