package render

// applianceComponents are the appliance's own manifests (not from a
// chart): the Secrets the charts reference, and the platform objects that
// wire Docs to its database, cache, storage, identity and edge.
func (r *renderer) applianceComponents(v *valuesContext) ([]*component, error) {
	if _, ok := r.opts.Train.Chart("docs"); ok {
		if err := r.secretFromStore("docs", docsNamespace, docsSecret, docsBackendSecretKeys); err != nil {
			return nil, err
		}
		if err := r.secretFromStore("docs", docsNamespace, yProviderSecret, map[string]string{
			"COLLABORATION_SERVER_SECRET": "collaboration.secret",
			"Y_PROVIDER_API_KEY":          "yprovider.apiKey",
		}); err != nil {
			return nil, err
		}
		r.namespaces[docsNamespace] = namespaceLabels(docsNamespace)
	}
	return nil, nil
}
